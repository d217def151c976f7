"""Phone-width (390 px) pages: nothing wider than the screen, chart titles and labels whole (issue 25)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from rq import Worker

from insights_app.jobs.queue import get_queue
from insights_app.models import Participant, Room
from tests.helpers.admin_data import VIEW_PERMS
from tests.helpers.reports_dataset import PERIOD, build_dataset

pytestmark = pytest.mark.django_db(transaction=True)
PHONE = {"width": 390, "height": 844}
QUERY = "?" + "&".join(f"{k}={v}" for k, v in PERIOD.items())
PAGE_OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def test_the_sync_dashboard_fits_a_phone_with_a_long_worker_id(
    page, login, make_staff_user, live_server, redis_conn, screenshot
):
    # A worker as rq names one by default (host.pid plus a 32-character hex id): no place to break.
    worker = Worker([get_queue()], connection=redis_conn, name="a" * 12 + "0123456789abcdef" * 3)
    worker.register_birth()
    login(make_staff_user("operator", perms=(*VIEW_PERMS, "run_sync")))
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/admin/insights_app/syncrun/dashboard/")
    assert worker.name in page.locator("#insights-workers").inner_text()
    screenshot("admin-dashboard-phone")
    assert page.evaluate(PAGE_OVERFLOW) <= 0


def test_the_busiest_rooms_chart_shows_its_title_and_labels_whole_on_a_phone(
    page, login, make_staff_user, live_server, screenshot
):
    build_dataset()
    # Room names as Whereby makes them: a UUID after the prefix.
    Room.objects.filter(room_name="/beta").update(room_name="/beta-5f0c8a52-6c1e-4b3e-9d2a-0a4c1f7e9b21")
    login(make_staff_user("viewer", perms=("view_reports",)))
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + reverse("insights_app:overview") + QUERY)
    chart = page.locator(".insights-chart[data-figure=insights-chart-rooms]")
    chart.locator(".main-svg").first.wait_for()
    chart.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    screenshot("reports-overview-rooms-phone")
    frame = chart.bounding_box()
    title = chart.locator(".gtitle")
    assert title.text_content() == "Busiest rooms"
    for box in [title.bounding_box()] + [t.bounding_box() for t in chart.locator(".ytick text").all()]:
        assert frame["x"] - 1 <= box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"] + 1, box
    # The end of the name, where generated names differ, is still on the axis.
    assert any(t.endswith("9b21") for t in chart.locator(".ytick text").all_text_contents())
    assert page.evaluate(PAGE_OVERFLOW) <= 0
    assert page.console_errors == []


def test_the_session_timeline_on_a_phone_has_one_time_axis_a_whole_title_and_says_why_names_lack_links(
    page, login, make_staff_user, live_server, screenshot
):
    data = build_dataset()
    session = data.sessions["S1"]
    Participant.objects.create(
        room_session=session,
        room=session.room,
        participant_id="guest-1",
        display_name="Guest without an id",
        joined_at=session.started_at,
        left_at=session.started_at + dt.timedelta(minutes=5),
        duration_seconds=300,
    )
    login(make_staff_user("viewer", perms=("view_reports",)))
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + reverse("insights_app:session", args=[session.pk]))
    chart = page.locator(".insights-chart[data-figure=insights-chart-timeline]")
    chart.locator(".main-svg").first.wait_for()
    page.wait_for_timeout(300)
    screenshot("reports-session-phone")
    frame, title = chart.bounding_box(), chart.locator(".gtitle")
    assert title.text_content() == "Connections over the session"
    box = title.bounding_box()
    assert frame["x"] - 1 <= box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"] + 1, box
    assert chart.locator(".xtick").count() > 0 and chart.locator(".x2tick").count() == 0
    assert page.evaluate(PAGE_OVERFLOW) <= 0
    # A connection without an external id has no person link, and the page says why.
    guest = page.locator("#table-connections tbody tr", has_text="Guest without an id")
    assert guest.locator("td").first.locator("a").count() == 0
    assert "without an external id" in page.locator("#table-connections .insights-table-note").inner_text()
