""" "Fetch network samples" follows its run and reloads the page when it has finished (issue 25)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from insights_app.models import SyncRun
from tests.helpers.reports_dataset import build_dataset

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_the_session_page_reloads_itself_once_the_samples_run_has_finished(
    page, login, make_staff_user, live_server, whereby_settings, rq_worker_factory, screenshot
):
    data = build_dataset()
    session = data.sessions["S1"]
    login(make_staff_user("syncer", perms=("view_reports", "run_sync")))
    page.goto(live_server.url + reverse("insights_app:session", args=[session.pk]))
    page.click(".insights-fetch-samples button[type=submit]")
    expect(page.locator("#insights-awaiting")).to_be_visible()
    run = SyncRun.objects.get()
    page.evaluate("window.__beforeReload = true")  # gone once the page reloads itself
    worker = rq_worker_factory()
    try:
        page.wait_for_function("window.__beforeReload !== true", timeout=120_000)
    except Exception:
        pytest.fail(f"no reload; run {SyncRun.objects.get().status}\n{worker.log()[-3000:]}")
    run.refresh_from_db()
    assert run.finished_at is not None
    page.wait_for_load_state()
    expect(page.locator("#insights-awaiting")).to_have_count(0)
    screenshot("reports-session-samples-arrived")
    assert page.console_errors == []
