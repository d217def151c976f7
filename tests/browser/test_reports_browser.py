"""The report pages in a real Chromium: charts draw, filters change numbers, CSV downloads, dark mode."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from tests.helpers.reports_dataset import PERIOD, build_dataset

pytestmark = pytest.mark.django_db(transaction=True)
QUERY = "?" + "&".join(f"{k}={v}" for k, v in PERIOD.items())
CHART_PAGES = {
    "overview": lambda d: reverse("insights_app:overview"),
    "room": lambda d: reverse("insights_app:room", args=[d.rooms["beta"].pk]),
    "session": lambda d: reverse("insights_app:session", args=[d.sessions["S1"].pk]),
    "participant": lambda d: reverse("insights_app:participant_quality", args=[d.people["p2"].pk]),
    "quality": lambda d: reverse("insights_app:quality"),
}
TABLE_PAGES = {
    "people": lambda d: reverse("insights_app:people"),
    "person": lambda d: reverse("insights_app:person", args=["u-1"]),
}


@pytest.fixture
def viewer_page(page, login, make_staff_user):
    data = build_dataset()
    login(make_staff_user("viewer", perms=("view_reports",)))
    page.data = data
    return page


def kpi(page, key: str) -> str:
    return page.locator(f'[data-kpi="{key}"] .insights-kpi-value').inner_text().strip()


@pytest.mark.parametrize("name", list(CHART_PAGES))
def test_chart_pages_draw_in_light_and_dark(viewer_page, live_server, screenshot, name):
    page = viewer_page
    page.goto(live_server.url + CHART_PAGES[name](page.data) + QUERY)
    page.wait_for_selector(".insights-chart .main-svg")
    charts = page.locator(".insights-chart")
    for i in range(charts.count()):
        assert charts.nth(i).locator(".main-svg").count() > 0, f"chart {i} did not draw"
    assert page.locator(".insights-chart .trace").count() > 0
    assert page.locator(".insights-chart .trace .point").count() > 0
    assert page.locator(".insights-chart .gtitle").first.text_content()
    screenshot(f"reports-{name}-light")
    page.emulate_media(color_scheme="dark")
    page.wait_for_timeout(300)
    # The chart text follows the admin's dark theme colour.
    fill = page.locator(".insights-chart .gtitle").first.evaluate("el => getComputedStyle(el).fill")
    body = page.evaluate("getComputedStyle(document.body).color")
    assert fill == body
    screenshot(f"reports-{name}-dark")
    assert page.console_errors == []


@pytest.mark.parametrize("name", list(TABLE_PAGES))
def test_table_pages_load(viewer_page, live_server, screenshot, name):
    page = viewer_page
    page.goto(live_server.url + TABLE_PAGES[name](page.data) + QUERY)
    assert page.locator(".insights-table table tbody tr").count() > 0
    screenshot(f"reports-{name}-light")
    page.emulate_media(color_scheme="dark")
    screenshot(f"reports-{name}-dark")
    assert page.console_errors == []


def test_date_filter_changes_the_numbers(viewer_page, live_server):
    page = viewer_page
    page.goto(live_server.url + reverse("insights_app:overview") + QUERY)
    assert kpi(page, "sessions") == "4"
    page.fill("#insights-start", "2026-02-22")
    page.fill("#insights-end", "2026-02-28")
    page.click("#insights-filters button[type=submit]")
    page.wait_for_url("**start=2026-02-22**")
    assert page.locator("#insights-period").input_value() == "custom"
    assert kpi(page, "sessions") == "2"
    assert kpi(page, "participant_minutes") == "260"
    page.wait_for_selector(".insights-chart .main-svg")
    assert page.console_errors == []


def test_preset_choice_submits_the_form(viewer_page, live_server):
    page = viewer_page
    page.goto(live_server.url + reverse("insights_app:overview") + QUERY)
    with page.expect_navigation():
        page.select_option("#insights-period", "7d")
    assert "period=7d" in page.url and "start=" not in page.url
    assert page.locator("#insights-period").input_value() == "7d"


def test_csv_download_of_the_top_rooms(viewer_page, live_server, tmp_path):
    page = viewer_page
    page.goto(live_server.url + reverse("insights_app:overview") + QUERY + "&room=alp")
    with page.expect_download() as info:
        page.locator("#table-top_rooms a.insights-csv").click()
    download = info.value
    assert download.suggested_filename == "overview-2026-03-01-to-2026-03-07-top_rooms.csv"
    target = tmp_path / "rooms.csv"
    download.save_as(target)
    assert target.read_bytes().startswith("\ufeff".encode())  # so Excel reads UTF-8
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert rows[0][0] == "Room"
    assert [r[0] for r in rows[1:]] == ["/alpha"]


def test_empty_state_points_to_the_sync(page, login, make_staff_user, live_server, screenshot):
    login(make_staff_user("viewer", perms=("view_reports",)))
    page.goto(live_server.url + reverse("insights_app:overview"))
    assert "There is no Whereby data in this site yet." in page.content()
    screenshot("reports-empty-light")
    assert page.console_errors == []


def test_hostile_names_in_charts_stay_text(viewer_page, live_server, screenshot):
    """Plotly renders links and styles in labels; a display name must show as what was typed."""
    page = viewer_page
    hostile = '<a href="https://evil.example/login">Sign in</a><img src=x onerror="window.__pwned=1">'
    person = page.data.people["p2"]
    type(person).objects.filter(pk=person.pk).update(display_name=hostile)
    page.goto(live_server.url + reverse("insights_app:session", args=[person.room_session_id]) + QUERY)
    page.wait_for_selector(".insights-chart .main-svg")

    ticks = page.locator(".insights-chart .ytick text").all_text_contents()
    # Shown as typed (cut in the middle on the axis: its start and end).
    assert any(t.startswith('<a href="ht') and t.endswith('_pwned=1">') for t in ticks), ticks
    assert page.locator('.insights-chart a[href*="evil.example"]').count() == 0
    assert page.locator('a[href*="evil.example"]').count() == 0
    assert page.evaluate("window.__pwned") is None
    screenshot("reports-session-hostile-name")
    assert page.console_errors == []


# The colour of a cell read from a screenshot of the chart, in the page (no image library needed).
PIXEL_JS = """async ([png, x, y]) => {
  const image = new Image();
  image.src = "data:image/png;base64," + png;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  return Array.from(context.getImageData(Math.round(x), Math.round(y), 1, 1).data);
}"""
# Where the centre of the heatmap cell (hour, weekday) is drawn, in pixels of the chart's box.
CELL_JS = """([hour, day]) => {
  const gd = document.querySelector("[data-figure=insights-chart-heatmap]");
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  return [xa._offset + xa.d2p(hour), ya._offset + ya.d2p(day)];
}"""


def heatmap_colours(page) -> tuple[list[int], list[int], list[int]]:
    """The drawn colours of an hour without sessions, an hour with some, and the chart's background."""
    import base64

    chart = page.locator("[data-figure=insights-chart-heatmap]")
    chart.scroll_into_view_if_needed()
    chart.locator(".main-svg").first.wait_for()
    page.wait_for_timeout(300)
    data = page.evaluate("JSON.parse(document.getElementById('insights-chart-heatmap').textContent).data[0]")
    day, hour = next((d, h) for d, row in enumerate(data["z"]) for h, n in enumerate(row) if n == 0)
    busy_day, busy_hour = next((d, h) for d, row in enumerate(data["z"]) for h, n in enumerate(row) if n)
    png = base64.b64encode(chart.screenshot()).decode()
    zero = page.evaluate(PIXEL_JS, [png, *page.evaluate(CELL_JS, [hour, data["y"][day]])])
    busy = page.evaluate(PIXEL_JS, [png, *page.evaluate(CELL_JS, [busy_hour, data["y"][busy_day]])])
    background = page.evaluate(PIXEL_JS, [png, 3, 3])
    return zero[:3], busy[:3], background[:3]


def close(a: list[int], b: list[int], tolerance: int = 6) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def test_heatmap_draws_an_hour_without_sessions_as_zero_in_light_and_dark(
    viewer_page, live_server, screenshot
):
    """An hour with no session starts is the scale's zero colour in both themes, not the page showing
    through a gap (grey in light mode, near black in dark mode)."""
    page = viewer_page
    page.goto(live_server.url + reverse("insights_app:overview") + QUERY)
    light_zero, light_busy, light_background = heatmap_colours(page)
    page.emulate_media(color_scheme="dark")
    dark_zero, dark_busy, dark_background = heatmap_colours(page)
    screenshot("reports-heatmap-dark")
    assert not close(light_background, dark_background)  # the theme did change
    assert close(light_zero, dark_zero), (light_zero, dark_zero)  # the same colour: a value, not a gap
    assert not close(dark_zero, dark_background) and not close(light_zero, light_background)
    assert not close(light_zero, light_busy) and not close(dark_zero, dark_busy)  # the pixels are cells
    assert page.console_errors == []
