"""The scheduled sync as the webhooks' safety net: cheap while they work, complete when they stall."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from insights_app.models import LiveRoom, RoomSession, WebhookEvent
from insights_app.sync import InProcess, create_or_get_active_run, execute_run
from tests.helpers import configure, run_sync
from tests.helpers.org_compare import assert_db_equals_org
from tests.helpers.webhooks import SECRET

pytestmark = pytest.mark.django_db


def scheduled_sync():
    run, created = create_or_get_active_run("incremental", trigger="schedule", backend=InProcess())
    assert created
    return execute_run(run.pk, backend=InProcess())


def sessions_read(server) -> set[str]:
    """Rooms whose sessions the sync asked the API for."""
    return {r.query["roomName"] for r in server.request_log if r.path == "/insights/room-sessions"}


def event(event_id: str, outcome: str, received_at) -> WebhookEvent:
    return WebhookEvent(
        event_id=event_id, type="room.client.joined", received_at=received_at, outcome=outcome
    )


def test_safety_net_leaves_occupied_rooms_to_webhooks_and_reads_them_once_webhooks_stall(
    settings, simulator_factory
):
    server = simulator_factory(
        seed=6, rooms=5, sessions_per_room=20, participants_per_session=3, live=True, days=10
    )
    org = server.organisation
    with time_machine.travel(org.now, tick=True) as clock:  # one clock for both sides
        configure(settings, server, WEBHOOK_SECRET=SECRET, DETAIL_POLICY="none")
        assert run_sync("full").status == "succeeded"
        before = {r["roomName"]: r for r in org.room_items()}
        org.advance(36 * 3600)  # sessions start and end whatever the weekday
        clock.move_to(org.now)
        changed = sorted(r["roomName"] for r in org.room_items() if before.get(r["roomName"]) != r)
        assert len(changed) >= 2, "the clock move should have changed several rooms"
        occupied = changed[0]
        # Webhooks work (a delivery processed a minute ago) and say someone is in `occupied` now.
        now = timezone.now()
        WebhookEvent.objects.bulk_create([event("ok", "processed", now - timedelta(minutes=1))])
        LiveRoom.objects.create(room_name=occupied, num_clients=2, counted_at=now)

        server.reset_counters()
        assert scheduled_sync().status == "succeeded"
        # Every other changed room is read (a lost delivery shows up as changed totals) ...
        assert sessions_read(server) == set(changed[1:])
        # ... the occupied one is left to its room.session.ended.
        stored = {s.room_session_id: s.raw for s in RoomSession.objects.filter(room__room_name=occupied)}
        assert stored != {s["roomSessionId"]: s for s in org.session_items(occupied)}

        # An event stuck for over 10 minutes: webhooks are not trusted, the safety net reads it all.
        WebhookEvent.objects.bulk_create([event("stuck", "pending", timezone.now() - timedelta(minutes=11))])
        server.reset_counters()
        assert scheduled_sync().status == "succeeded"
        assert occupied in sessions_read(server)
        assert_db_equals_org(org, details="none")
