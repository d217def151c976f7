"""The admin in a real browser: each list, room -> session -> participant, hostile names stay text."""

from __future__ import annotations

import pytest

from insights_app.models import Participant, RoomSession
from tests.helpers.admin_data import HOSTILE_NAME, VIEW_PERMS, make_data

pytestmark = pytest.mark.django_db(transaction=True)


def test_each_changelist_opens(page, login, make_staff_user, screenshot, live_server):
    make_data()
    login(make_staff_user("viewer", perms=(*VIEW_PERMS, "view_reports")))
    page.click("text=Sync dashboard")  # the dashboard is listed with the app's models
    assert page.locator("h1").inner_text() == "Sync dashboard"
    for model, heading in (
        ("room", "Select room to view"),
        ("roomsession", "Select room session to view"),
        ("participant", "Select participant to view"),
        ("syncrun", "Select sync run to view"),
    ):
        page.goto(f"{live_server.url}/admin/insights_app/{model}/")
        assert page.locator("h1").inner_text() == heading
        assert page.locator("#result_list").is_visible() or model == "syncrun"
        screenshot(f"admin-{model}-changelist")
    assert page.console_errors == []


def test_follow_room_to_session_to_participant(page, login, make_staff_user, screenshot, live_server):
    make_data()
    login(make_staff_user("viewer", perms=VIEW_PERMS))
    page.goto(f"{live_server.url}/admin/insights_app/room/")
    page.click("#result_list >> text=/room-1")
    assert page.locator("h1").inner_text() == "View room"
    page.click("text=Sessions of this room")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 4
    assert page.locator("#changelist-filter").get_by_text("/room-1").first.is_visible()
    session = RoomSession.objects.get(room_session_id="sess-1-1")
    page.locator("#result_list tbody tr", has_text="sess-1-1").locator("th a").click()
    assert page.locator("h1").inner_text() == "View room session"
    assert session.room_session_id in page.content()
    page.click("text=Participants of this session")
    assert page.locator("#result_list tbody tr").count() == 3
    page.click("#result_list >> text=Person 1-1-0")
    assert page.locator("h1").inner_text() == "View participant"
    # The reports' Plotly chart: two loss lines and the threshold.
    page.wait_for_selector(".insights-plot .main-svg")
    assert page.locator(".insights-plot .scatterlayer .trace").count() == 2
    assert page.locator(".insights-quality .insights-poor").inner_text() == "degraded"
    screenshot("admin-participant-change")
    page.click("text=Room /room-1")  # and back up to the room
    assert page.locator("h1").inner_text() == "View room"
    assert page.console_errors == []


def test_hostile_display_name_is_shown_as_text(page, login, make_staff_user, screenshot, live_server):
    data = make_data(rooms=1, sessions_per_room=1, participants_per_session=1)
    login(make_staff_user("viewer", perms=VIEW_PERMS))
    hostile = Participant.objects.get(pk=data.hostile.pk)
    for url in (
        f"{live_server.url}/admin/insights_app/participant/",
        f"{live_server.url}/admin/insights_app/participant/{hostile.pk}/change/",
    ):
        page.goto(url)
        page.wait_for_load_state("load")
        assert page.evaluate("window.__pwned") is None  # neither the script nor the onerror ran
        assert page.get_by_text(HOSTILE_NAME).first.is_visible()
    screenshot("admin-hostile-name")
