"""The dashboard's "In rooms now" follows webhook deliveries without a reload (real worker, real HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.helpers.admin_data import VIEW_PERMS
from tests.helpers.webhooks import SECRET, WEBHOOK_PATH, client_event, post

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

HOSTILE = "<img src=x onerror=alert(1)>Ada"


def test_presence_updates_on_the_dashboard(
    page, login, make_staff_user, screenshot, live_server, settings, redis_conn, rq_worker_factory
):
    settings.WHEREBY_INSIGHTS = {
        **settings.WHEREBY_INSIGHTS,
        "WEBHOOK_SECRET": SECRET,
        "DETAIL_POLICY": "none",
        "WEBHOOK_SYNC_DELAY_MINUTES": 600,
    }
    rq_worker_factory()
    login(make_staff_user("operator", perms=VIEW_PERMS))
    page.goto(f"{live_server.url}/admin/insights_app/syncrun/dashboard/")
    block = page.locator(".insights-presence")
    expect(block).to_contain_text("Nobody is in a room right now.")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    url = live_server.url + WEBHOOK_PATH
    joined_at = datetime.now(UTC) - timedelta(minutes=1)
    joined = client_event(
        "room.client.joined", at=joined_at, participant="p-ada", room="/design-review", displayName=HOSTILE
    )
    assert post(url, joined).status_code == 202
    expect(block).to_contain_text("/design-review", timeout=30_000)
    expect(block).to_contain_text(HOSTILE)  # shown as text, never as markup
    assert block.locator("img").count() == 0
    screenshot("dashboard-presence")

    left = client_event(
        "room.client.left", at=joined_at + timedelta(seconds=30), participant="p-ada", room="/design-review",
        numClients=0,
    )  # fmt: skip
    assert post(url, left).status_code == 202
    expect(block).to_contain_text("Nobody is in a room right now.", timeout=30_000)
    assert page.evaluate("window.__sameDocument") is True
    assert page.console_errors == []
