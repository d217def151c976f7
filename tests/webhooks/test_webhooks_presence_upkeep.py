"""Presence does not keep ghosts (issue 26, defect 17): lost leaves end, old rows are pruned as documented."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from insights_app.models import LiveConnection, LiveRoom, WebhookEvent
from insights_app.webhooks import effects, presence
from insights_app.webhooks.events import parse_event
from insights_app.webhooks.prune import prune_webhook_events
from tests.helpers.webhooks import SECRET, body_of, client_event, event

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def webhooks_on(settings, redis_conn):
    settings.WHEREBY_INSIGHTS = {
        **settings.WHEREBY_INSIGHTS,
        "WEBHOOK_SECRET": SECRET,
        "DETAIL_POLICY": "none",
        "WEBHOOK_SYNC_DELAY_MINUTES": 15,
    }


def deliver(payload: dict) -> None:
    """Store an event as the intake does (received now) and apply it as the drain job does."""
    parsed = parse_event(body_of(payload))
    stored = WebhookEvent.objects.create(
        event_id=parsed.event_id,
        type=parsed.type,
        created_at=parsed.created_at,
        received_at=timezone.now(),
        room_name=parsed.room_name,
        room_session_id=parsed.room_session_id,
        participant_id=parsed.participant_id,
        raw=parsed.raw,
    )
    effects.process(stored.pk)


def present() -> set[str]:
    return {p.participant_id for room in presence.in_rooms_now() for p in room.people}


def test_a_room_counted_empty_closes_the_joins_whose_leave_was_lost():
    t0 = (datetime.now(UTC) - timedelta(minutes=30)).replace(microsecond=0)
    deliver(client_event("room.client.joined", at=t0, participant="ghost", numClients=1))
    deliver(client_event("room.client.joined", at=t0 + timedelta(minutes=1), participant="p-2", numClients=2))
    assert present() == {"ghost", "p-2"}
    # p-2 leaves and Whereby counts the room empty: the ghost's leave was lost, yet it has gone.
    deliver(client_event("room.client.left", at=t0 + timedelta(minutes=2), participant="p-2", numClients=0))
    assert present() == set()
    assert LiveConnection.objects.get(participant_id="ghost").left_at == t0 + timedelta(minutes=2)


def test_a_join_whose_leave_was_lost_leaves_in_rooms_now_after_twelve_quiet_hours_then_is_pruned():
    start = timezone.now()
    deliver(client_event("room.client.joined", at=start, participant="ghost", numClients=1))
    with time_machine.travel(start + timedelta(hours=11)):
        assert present() == {"ghost"}
    with time_machine.travel(start + timedelta(hours=12, minutes=1)):
        assert present() == set()  # no event of the room for 12 hours: a ghost
    # A room with people coming and going keeps a long stay trusted.
    deliver(client_event("room.client.joined", at=start, participant="stayer", room="/busy", numClients=1))
    with time_machine.travel(start + timedelta(hours=12, minutes=1)):
        deliver(
            client_event(
                "room.client.joined", at=timezone.now(), participant="new", room="/busy", numClients=2
            )
        )
        assert present() == {"stayer", "new"}
    assert prune_webhook_events(now=start + timedelta(hours=35)).connections == 0
    pruned = prune_webhook_events(now=start + timedelta(hours=36, minutes=1))
    assert pruned.connections == 1
    assert set(LiveConnection.objects.values_list("participant_id", flat=True)) == {"stayer", "new"}


def test_left_connections_are_kept_one_day_even_without_a_later_session_end():
    start = timezone.now()
    deliver(client_event("room.client.joined", at=start, participant="p-1", numClients=1))
    deliver(
        client_event("room.client.left", at=start + timedelta(minutes=5), participant="p-1", numClients=1)
    )
    assert prune_webhook_events(now=start + timedelta(hours=23)).connections == 0
    assert prune_webhook_events(now=start + timedelta(days=1, minutes=6)).connections == 1
    assert not LiveConnection.objects.exists()


def test_idle_live_rooms_are_pruned_after_a_day_and_busy_ones_kept():
    start = timezone.now()
    deliver(event("room.session.started", at=start, room="/idle"))
    deliver(event("room.session.ended", at=start + timedelta(minutes=30), room="/idle"))
    deliver(client_event("room.client.joined", at=start, participant="p-1", room="/busy", numClients=1))
    later = start + timedelta(days=1, hours=1)
    with time_machine.travel(later):
        deliver(client_event("room.client.joined", at=later, participant="p-2", room="/busy", numClients=2))
    pruned = prune_webhook_events(now=later)
    assert pruned.rooms == 1
    assert list(LiveRoom.objects.values_list("room_name", flat=True)) == ["/busy"]


def test_a_session_end_dated_2100_cannot_make_its_room_immortal():
    """Event times are bounded by the time received, so pruning by them is bounded too."""
    from django.test import Client

    from insights_app.simulator.webhooks import sign
    from tests.helpers.webhooks import WEBHOOK_PATH

    start = timezone.now()
    for payload in (
        client_event(
            "room.client.left", at=datetime(2100, 1, 1, tzinfo=UTC), participant="p-x", numClients=1
        ),
        event("room.session.ended", at=datetime(2100, 1, 1, tzinfo=UTC), room="/standup"),
    ):
        body = body_of(payload)
        response = Client().post(WEBHOOK_PATH, data=body, content_type="application/json",
                                 HTTP_WHEREBY_SIGNATURE=sign(SECRET, int(start.timestamp()), body))  # fmt: skip
        assert response.status_code == 202
        effects.process(WebhookEvent.objects.get(event_id=payload["id"]).pk)
    pruned = prune_webhook_events(now=start + timedelta(days=1, minutes=10))
    assert (pruned.connections, pruned.rooms) == (1, 1)
