"""Report layout in Chromium: big timelines, phones, clickable bars, form errors (issue 15)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from insights_app.models import Participant
from insights_app.rollups.rebuild import rebuild
from tests.helpers.reports_dataset import PERIOD, build_dataset

pytestmark = pytest.mark.django_db(transaction=True)
QUERY = "?" + "&".join(f"{k}={v}" for k, v in PERIOD.items())


@pytest.fixture
def viewer_page(page, login, make_staff_user):
    data = build_dataset()
    login(make_staff_user("viewer", perms=("view_reports",)))
    page.data = data
    return page


def box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


def overlaps(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_a_48_person_timeline_has_no_blank_band_and_a_time_axis_on_top(viewer_page, live_server, screenshot):
    page = viewer_page
    session = page.data.sessions["S1"]
    start = session.started_at
    Participant.objects.bulk_create(
        Participant(
            room_session=session,
            room=session.room,
            participant_id=f"crowd-{i}",
            identity=f"crowd-{i}",
            display_name=f"Person {i:02d}",
            joined_at=start + dt.timedelta(minutes=i % 20),
            left_at=start + dt.timedelta(minutes=30),
            duration_seconds=(30 - i % 20) * 60,
            quality_degraded=[None, True, False][i % 3],
        )
        for i in range(45)
    )
    rebuild()  # a bulk load is followed by a rollup rebuild
    page.goto(live_server.url + reverse("insights_app:session", args=[session.pk]))
    page.wait_for_selector("#insights-reports .insights-chart .main-svg")
    plot = box(page, ".insights-chart .nsewdrag")
    legend = box(page, ".insights-chart .legend")
    x_title = box(page, ".insights-chart .g-xtitle")
    chart = box(page, ".insights-chart")
    assert legend["y"] >= x_title["y"] + x_title["height"] - 1  # below the axis title, not on it
    assert legend["y"] - (plot["y"] + plot["height"]) < 90  # no ~200 px blank band before it
    assert chart["y"] + chart["height"] - (legend["y"] + legend["height"]) < 40
    # One time axis (a second one was misaligned), above the plot of a long list.
    assert page.locator(".insights-chart .x2tick").count() == 0
    ticks = page.locator(".insights-chart .xtick")
    assert ticks.count() > 0
    assert all(tick.bounding_box()["y"] < plot["y"] for tick in ticks.all())
    # Bars in three quality colours, named in the legend.
    legend_text = page.locator(".insights-chart .legend .legendtext").all_text_contents()
    for word in ("good", "degraded", "no quality data"):
        assert word in legend_text
    screenshot("reports-session-48")
    assert page.console_errors == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_on_a_phone_titles_and_legends_stay_clear(viewer_page, live_server, screenshot, scheme):
    page = viewer_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.emulate_media(color_scheme=scheme)
    page.goto(live_server.url + reverse("insights_app:overview") + QUERY)
    page.wait_for_selector(".insights-chart .main-svg")
    page.wait_for_timeout(300)
    charts = page.locator(".insights-chart")
    for i in range(charts.count()):
        chart = charts.nth(i)
        chart.scroll_into_view_if_needed()
        chart.hover()
        # No toolbar on a phone (it covered the titles); titles never meet the legend or axis titles.
        assert chart.locator(".modebar").count() == 0 or not chart.locator(".modebar").is_visible()
        title = chart.locator(".gtitle").bounding_box()
        for other in (".legend", ".g-xtitle"):
            if chart.locator(other).count():
                assert not overlaps(title, chart.locator(other).first.bounding_box()), (i, other)
        if chart.locator(".legend").count() and chart.locator(".g-xtitle").count():
            assert not overlaps(
                chart.locator(".legend").first.bounding_box(), chart.locator(".g-xtitle").first.bounding_box()
            ), i
        assert chart.bounding_box()["width"] <= 390
    screenshot(f"reports-overview-phone-{scheme}")
    assert page.console_errors == []


def test_clicking_a_browser_bar_leads_to_its_rows(viewer_page, live_server):
    page = viewer_page
    page.goto(live_server.url + reverse("insights_app:quality") + QUERY)
    chart = page.locator("#insights-reports .insights-chart[data-figure=insights-chart-by_browser]")
    chart.scroll_into_view_if_needed()
    chart.locator(".bars path").first.wait_for(state="attached")
    bars = chart.locator(".bars path")
    index = next(i for i in range(bars.count()) if (bars.nth(i).bounding_box() or {}).get("width", 0) > 2)
    names = page.evaluate(
        "JSON.parse(document.getElementById('insights-chart-by_browser').textContent).data[0].y"
    )
    name = names[index]
    bar = bars.nth(index).bounding_box()
    with page.expect_navigation():  # where a user clicks: Plotly's drag layer sits over the bars
        page.mouse.click(bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] / 2)
    assert "browser=" in page.url
    assert page.locator("#insights-narrowed").inner_text().endswith(f"Browser = {name}.")
    assert page.console_errors == []


def test_a_reversed_range_shows_an_error_and_keeps_the_dates(viewer_page, live_server, screenshot):
    page = viewer_page
    page.goto(
        live_server.url + reverse("insights_app:overview") + "?period=custom&start=2026-11-25&end=2026-11-05"
    )
    assert "is after the end date" in page.locator(".insights-filter-errors").inner_text()
    assert page.locator("#insights-start").input_value() == "2026-11-25"
    assert page.locator("#insights-end").input_value() == "2026-11-05"
    assert page.locator("#insights-period").input_value() == "custom"
    page.fill("#insights-start", "2026-03-01")
    page.fill("#insights-end", "2026-03-07")
    page.click("#insights-filters button[type=submit]")
    page.wait_for_selector(".insights-chart .main-svg")
    assert page.locator(".insights-filter-errors").count() == 0
    screenshot("reports-filter-fixed")
