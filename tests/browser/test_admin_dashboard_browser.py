"""Start a sync from the dashboard and watch a real worker take it to ``succeeded``, no reloads."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from insights_app.models import Room, SyncRun
from tests.helpers.admin_data import VIEW_PERMS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_start_a_sync_and_watch_it_succeed(
    page, login, make_staff_user, screenshot, live_server, whereby_settings, rq_worker_factory
):
    worker = rq_worker_factory()
    login(make_staff_user("operator", perms=(*VIEW_PERMS, "run_sync")))
    page.goto(f"{live_server.url}/admin/insights_app/syncrun/dashboard/")
    # The health table refreshes itself until the worker has registered.
    expect(page.locator("#insights-workers")).not_to_have_text("none", timeout=30_000)
    expect(page.locator("#insights-problems")).to_have_text("")
    screenshot("admin-dashboard-ready")

    page.click("button.insights-start-incremental")
    expect(page.locator(".messagelist")).to_contain_text("Queued")
    run = SyncRun.objects.get()
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    row = page.locator(f'#insights-recent-rows tr[data-run-id="{run.pk}"]')
    try:
        expect(row.locator(".insights-status")).to_have_text("succeeded", timeout=120_000)
    except AssertionError:
        pytest.fail(f"run did not succeed: {SyncRun.objects.get().status}\n{worker.log()[-3000:]}")
    assert page.evaluate("window.__sameDocument") is True
    assert int(page.locator("#insights-dashboard").get_attribute("data-polls")) > 0
    expect(page.locator("#insights-active-rows")).to_contain_text("Nothing queued or running.")
    # Freshness follows too: the last successful sync now links to this run.
    expect(page.locator(f'#insights-last-success a[href$="/syncrun/{run.pk}/change/"]')).to_be_visible()
    assert Room.objects.count() == 3
    screenshot("admin-dashboard-succeeded")
    assert page.console_errors == []


def test_dashboard_without_worker_explains_the_wait(
    page, login, make_staff_user, screenshot, live_server, redis_conn
):
    login(make_staff_user("operator", perms=(*VIEW_PERMS, "run_sync")))
    page.goto(f"{live_server.url}/admin/insights_app/syncrun/dashboard/")
    expect(page.locator("#insights-problems")).to_contain_text("No worker listens")
    expect(page.locator("#insights-start-help")).to_contain_text("nothing runs until a worker starts")
    screenshot("admin-dashboard-no-worker")
