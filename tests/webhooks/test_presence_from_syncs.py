""" "In rooms now" is seeded from the sessions a sync saw still going on, says since when, and gives way
to webhooks where they have told about the room; both clocks pinned."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from insights_app.display.times import format_datetime
from insights_app.models import Participant, RoomSession
from insights_app.webhooks import presence
from tests.helpers import configure, run_sync
from tests.helpers.webhooks import SECRET, client_event, event

from .test_pages import deliver

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


@pytest.fixture
def synced_now(simulator_factory, settings):
    """A full sync at NOW of an organisation with sessions going on; the simulator at the same instant."""
    server = simulator_factory(seed=8, rooms=12, sessions_per_room=30, participants_per_session=3, days=2,
                               now=NOW.isoformat())  # fmt: skip
    configure(settings, server, DETAIL_POLICY="none", WEBHOOK_SECRET=SECRET)
    settings.TIME_ZONE = "Europe/Oslo"
    with time_machine.travel(NOW, tick=False):
        assert run_sync("full").status == "succeeded"
        yield server


def ongoing() -> list[RoomSession]:
    sessions = RoomSession.objects.filter(ended_at__isnull=True).select_related("room").order_by("started_at")
    return [s for s in sessions if Participant.objects.filter(room_session=s, left_at__isnull=True).exists()]


def test_a_session_the_sync_saw_going_on_shows_in_rooms_now_with_who_and_since_when(
    synced_now, client, viewer
):
    sessions = ongoing()
    assert sessions, "the organisation should have a session going on at NOW"
    rooms = {room.room_name: room for room in presence.in_rooms_now()}
    for session in sessions:
        room = rooms[session.room.room_name]
        assert room.since == session.started_at and room.synced_at is not None
        connected = Participant.objects.filter(room_session=session, left_at__isnull=True)
        assert {p.participant_id for p in room.people} == set(
            connected.values_list("participant_id", flat=True)
        )
    session = sessions[0]
    client.force_login(viewer)
    page = client.get(reverse("insights_app:room", args=[session.room.pk])).content.decode()
    block = page[page.index("insights-presence") :]
    since = format_datetime(session.started_at)  # the site's zone, the reports' format
    assert re.search(rf"in the room, since <time[^>]*>{since}</time>", block), block[:600]
    assert "as the sync at 16:00 saw it" in block  # 15:00 UTC in Oslo
    assert f'href="{reverse("insights_app:room", args=[session.room.pk])}"' in block
    assert "insights-presence-empty" not in block
    feed = client.get(reverse("insights_app:webhook_presence"), {"room": session.room.room_name}).json()
    assert [(r["room_name"], r["since"], r["synced_at"]) for r in feed["rooms"]] == [
        (session.room.room_name, since, "16:00")
    ]


def people_in(name: str) -> set[str]:
    return {
        p.participant_id for room in presence.in_rooms_now() if room.room_name == name for p in room.people
    }


def test_webhooks_add_and_remove_people_and_a_session_end_clears_the_room(synced_now):
    session = ongoing()[0]
    name = session.room.room_name
    from_api = set(
        Participant.objects.filter(room_session=session, left_at__isnull=True).values_list(
            "participant_id", flat=True
        )
    )
    leaver = sorted(from_api)[0]
    with time_machine.travel(NOW, tick=False):
        # Webhooks began after these people joined: a newcomer is added to them, not put in their place.
        deliver(client_event("room.client.joined", at=NOW - timedelta(seconds=50), participant="p-new",
                             room=name, numClients=len(from_api) + 1))  # fmt: skip
        assert people_in(name) == from_api | {"p-new"}
        deliver(client_event("room.client.left", at=NOW - timedelta(seconds=40), participant=leaver,
                             room=name, numClients=len(from_api)))  # fmt: skip
        assert people_in(name) == (from_api - {leaver}) | {"p-new"}
        deliver(event("room.session.ended", at=NOW - timedelta(seconds=30), room=name))
        assert name not in {room.room_name for room in presence.in_rooms_now()}


def test_a_room_webhooks_counted_empty_after_the_joins_is_empty(synced_now):
    session = ongoing()[0]
    name = session.room.room_name
    with time_machine.travel(NOW, tick=False):
        deliver(client_event("room.client.left", at=NOW - timedelta(seconds=20), participant="p-other",
                             room=name, numClients=0))  # fmt: skip
        assert name not in {room.room_name for room in presence.in_rooms_now()}


def test_a_later_sync_that_sees_the_session_ended_clears_the_room(synced_now):
    session = ongoing()[0]
    name = session.room.room_name
    synced_now.organisation.advance(6 * 3600)
    with time_machine.travel(NOW + timedelta(hours=6), tick=False):
        assert run_sync("incremental").status == "succeeded"
        session.refresh_from_db()
        assert session.ended_at is not None
        assert name not in {room.room_name for room in presence.in_rooms_now()}


def test_a_session_seen_going_on_long_ago_is_not_shown_as_now(synced_now):
    names = {s.room.room_name for s in ongoing()}
    with time_machine.travel(NOW + timedelta(hours=13), tick=False):
        assert not names & {room.room_name for room in presence.in_rooms_now()}
