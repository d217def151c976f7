"""The dashboard reads the same before and after its live refresh (dashboard.js redraws from the JSON)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from insights_app.models import SyncRun
from tests.helpers.admin_data import VIEW_PERMS

pytestmark = pytest.mark.django_db(transaction=True)


def masked(text: str) -> str:
    """The text with its digits hidden (ages tick between two reads)."""
    return re.sub(r"\d", "#", " ".join(text.split()))


def test_figures_keep_their_format_after_the_live_refresh(
    page, login, make_staff_user, live_server, redis_conn
):
    now = timezone.now()
    done = SyncRun.objects.create(
        kind="full", status="succeeded", trigger="schedule", dedup_key="a", participants_created=12345
    )
    running = SyncRun.objects.create(kind="incremental", status="running", trigger="admin", dedup_key="b")
    SyncRun.objects.filter(pk=done.pk).update(
        started_at=now - timedelta(minutes=30), finished_at=now - timedelta(minutes=12)
    )
    SyncRun.objects.filter(pk=running.pk).update(started_at=now - timedelta(minutes=2), heartbeat_at=now)
    login(make_staff_user("operator", perms=(*VIEW_PERMS, "run_sync")))
    page.goto(f"{live_server.url}/admin/insights_app/syncrun/dashboard/")
    parts = ("#insights-last-success", "#insights-recent-rows", "#insights-active-rows")
    before = {sel: page.locator(sel).inner_text() for sel in parts}
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d \(12 min \d\d s ago\)", before["#insights-last-success"])
    assert "12,345" in before["#insights-recent-rows"] and "18 min 00 s" in before["#insights-recent-rows"]
    assert "last sign of life" in before["#insights-active-rows"]
    expect(page.locator("#insights-dashboard")).to_have_attribute(
        "data-polls", re.compile(r"[1-9]"), timeout=15_000
    )
    after = {sel: page.locator(sel).inner_text() for sel in parts}
    for sel in parts:
        assert masked(after[sel]) == masked(before[sel]), sel
    assert page.console_errors == []


def test_a_running_full_sync_shows_the_share_of_its_work_in_the_bar_and_the_words(
    page, login, make_staff_user, live_server, redis_conn, screenshot
):
    """No room finished yet (a full sync finishes rooms in its last step), and a third of the work done."""
    now = timezone.now()
    run = SyncRun.objects.create(
        kind="full",
        status="running",
        trigger="admin",
        dedup_key="c",
        progress_total=40,
        api_points=300,
        checkpoint={"estimate": {"calls": {"participants": 700}, "api_points": 100}},
    )
    SyncRun.objects.filter(pk=run.pk).update(started_at=now - timedelta(minutes=2), heartbeat_at=now)
    login(make_staff_user("operator", perms=(*VIEW_PERMS, "run_sync")))
    page.goto(f"{live_server.url}/admin/insights_app/syncrun/dashboard/")
    for moment in ("loaded", "refreshed"):
        if moment == "refreshed":
            expect(page.locator("#insights-dashboard")).to_have_attribute(
                "data-polls", re.compile(r"[1-9]"), timeout=15_000
            )
        cell = page.locator("#insights-active-rows .insights-progress")
        words = re.search(r"0 / 40 rooms, about (\d+) % of the work", cell.inner_text())
        assert words, (moment, cell.inner_text())
        bar = cell.locator("progress")
        assert (bar.get_attribute("max"), bar.get_attribute("value")) == ("100", words.group(1)), moment
        assert 0 < int(words.group(1)) < 100
    screenshot("dashboard-work-share")
    assert page.console_errors == []
