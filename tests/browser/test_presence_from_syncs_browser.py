"""The script's redraw of "In rooms now" says what the server drew for a session a sync saw going on:
since when, as of which sync, the room linked to its report, roles in words (no webhooks on this site)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from insights_app.display.times import format_datetime
from insights_app.models import Room, RoomSession
from tests.helpers.admin_data import VIEW_PERMS, synced_participant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_session_a_sync_saw_going_on_is_drawn_alike_by_the_server_and_the_script(
    page, login, make_staff_user, live_server, settings
):
    settings.TIME_ZONE = "Asia/Kolkata"  # not the browser's zone: the script must not re-zone times
    now = timezone.now()
    started = now - timedelta(minutes=40)
    room = Room.objects.create(room_name="/all-hands")
    session = RoomSession.objects.create(
        room=room, room_session_id="s-live", room_name=room.room_name, started_at=started, synced_at=now
    )
    synced_participant(room_session=session, participant_id="p-1", display_name="Ada", role_name="granted_viewer",
                       joined_at=started + timedelta(minutes=5))  # fmt: skip
    login(make_staff_user("operator", perms=VIEW_PERMS))
    page.goto(f"{live_server.url}/admin/insights_app/syncrun/dashboard/")
    heading = page.locator(".insights-presence-room h3")
    since = format_datetime(started)
    with timezone.override("Asia/Kolkata"):
        synced = format_datetime(now, "H:i")
        joined = format_datetime(started + timedelta(minutes=5), "H:i")
    drawn = f"/all-hands — 1 in the room, since {since} (as the sync at {synced} saw it)"
    expect(heading).to_have_text(drawn)
    page.evaluate("document.querySelector('.insights-presence-room h3').textContent = 'stale'")
    expect(heading).to_have_text(drawn, timeout=15_000)  # redrawn by the script every 3 s
    expect(page.locator(".insights-presence-room li")).to_have_text(
        f"Ada (viewer (granted access)) since {joined}"
    )
    assert heading.locator("a").get_attribute("href") == f"/insights/rooms/{room.pk}/"
