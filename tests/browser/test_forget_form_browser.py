"""The admin's forget form: a submit with no criterion says so; the choices sit in the form (issue 25)."""

from __future__ import annotations

import pytest

from insights_app.models import Participant, PrivacyAudit
from tests.helpers.reports_dataset import build_dataset

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def forget_page(page, login, make_staff_user, live_server):
    build_dataset()
    login(make_staff_user("root", superuser=True))
    page.goto(f"{live_server.url}/admin/insights_app/participant/")
    page.locator("#result_list tbody input.action-select").first.check()
    page.select_option("select[name=action]", "forget_selected_people")
    page.click("button[name=index]")
    page.wait_for_selector("input[name=criterion]")
    return page


def test_a_submit_without_a_criterion_shows_an_error_and_forgets_nobody(forget_page, screenshot):
    page = forget_page
    before = list(Participant.objects.values_list("display_name", flat=True).order_by("pk"))
    page.click("input[type=submit]")
    page.wait_for_load_state()
    assert "Choose what to forget the people by" in page.locator(".errornote").inner_text()
    assert page.locator("input[name=criterion]").count() > 0  # still the form, to choose again
    screenshot("admin-forget-no-criterion")
    assert list(Participant.objects.values_list("display_name", flat=True).order_by("pk")) == before
    assert not PrivacyAudit.objects.exists()


@pytest.mark.parametrize("width", [1400, 390])
def test_each_choice_sits_inside_the_form_beside_its_label(forget_page, screenshot, width):
    page = forget_page
    page.set_viewport_size({"width": width, "height": 900})
    screenshot(f"admin-forget-{width}")
    fieldset = page.locator("fieldset").first.bounding_box()
    bar = page.locator("fieldset h2").first.bounding_box()
    choices = page.locator(".insights-forget-choice").all()
    assert len(choices) == page.locator("input[name=criterion]").count() > 1
    for choice in choices:
        radio = choice.locator("input[type=radio]").bounding_box()
        assert radio["width"] < 30, radio  # a radio, not a field stretched over the row
        text = choice.locator(".insights-forget-label").bounding_box()
        assert radio["x"] >= fieldset["x"] + 8, (radio, fieldset)  # indented like the form's rows
        assert radio["y"] >= bar["y"] + bar["height"]
        # On the label's line, just left of it.
        assert abs((radio["y"] + radio["height"] / 2) - (text["y"] + text["height"] / 2)) < 6, (radio, text)
        assert 0 < text["x"] - (radio["x"] + radio["width"]) < 16, (radio, text)
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
