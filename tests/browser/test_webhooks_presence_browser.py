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


# The visual order of a word: positive when its first letter is drawn left of its last (it reads as
# written), negative when a right-to-left override before it has reversed it.
WORD_DIRECTION = """(root, word) => {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.data.indexOf(word);
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(node, at); range.setEnd(node, at + 1);
    const first = range.getBoundingClientRect().left;
    range.setStart(node, at + word.length - 1); range.setEnd(node, at + word.length);
    return range.getBoundingClientRect().left - first;
  }
  return null;
}"""
RLO = "\u202e"


def test_a_right_to_left_override_in_a_name_reverses_only_the_name(
    page, login, make_staff_user, live_server, settings, redis_conn
):
    from insights_app.models import RoomSession
    from insights_app.webhooks import effects
    from insights_app.webhooks.events import parse_event
    from insights_app.webhooks.intake import store
    from tests.helpers.admin_data import make_data
    from tests.helpers.webhooks import body_of

    settings.WHEREBY_INSIGHTS = {
        **settings.WHEREBY_INSIGHTS,
        "WEBHOOK_SECRET": SECRET,
        "DETAIL_POLICY": "none",
    }
    payload = client_event("room.client.joined", at=datetime.now(UTC), participant="p-eve", room=f"/{RLO}ops",
                           displayName=f"{RLO}Eve", roleName=f"{RLO}host")  # fmt: skip
    parsed = parse_event(body_of(payload))
    store(parsed)
    from insights_app.models import WebhookEvent

    effects.process(WebhookEvent.objects.get(event_id=parsed.event_id).pk)
    login(make_staff_user("operator", perms=(*VIEW_PERMS, "view_reports")))
    page.goto(f"{live_server.url}/admin/insights_app/syncrun/dashboard/")
    person = page.locator(".insights-presence li").first
    expect(person).to_contain_text("Eve")
    assert person.evaluate(WORD_DIRECTION, "since") > 0  # as the server drew it
    assert page.locator(".insights-presence h3").first.evaluate(WORD_DIRECTION, "room") > 0  # fmt: skip
    person.evaluate("li => { li.dataset.old = '1'; }")
    redrawn = page.locator(".insights-presence li:not([data-old])").first
    expect(redrawn).to_contain_text("Eve", timeout=15_000)  # the script redraws every 3 s
    assert redrawn.evaluate(WORD_DIRECTION, "since") > 0
    # A report's breadcrumbs: the room name does not reverse the crumb after it.
    make_data(rooms=1, sessions_per_room=1)
    session = RoomSession.objects.get()
    RoomSession.objects.filter(pk=session.pk).update(room_name=f"/{RLO}ops")
    session.room.__class__.objects.filter(pk=session.room_id).update(room_name=f"/{RLO}ops")
    page.goto(f"{live_server.url}/insights/sessions/{session.pk}/")
    crumbs = page.locator(".breadcrumbs")
    expect(crumbs).to_contain_text("Session in")
    assert crumbs.evaluate(WORD_DIRECTION, "Session") > 0
    # The admin's links under a connection: "Room <name> · Session · Everyone in this session".
    connection = session.participants.order_by("pk").first()
    page.goto(f"{live_server.url}/admin/insights_app/participant/{connection.pk}/change/")
    related = page.locator(".field-related_links")
    expect(related).to_contain_text("Everyone")
    assert related.evaluate(WORD_DIRECTION, "Everyone") > 0
    assert page.console_errors == []
