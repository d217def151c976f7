"""Under Whereby's data lag, scheduled incremental syncs make the database equal to the API once the
lag has passed, with only the calls the changes force (a live, lagging simulator; both clocks pinned)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db.models import Q
from django.utils import timezone

from insights_app.models import RoomSession
from insights_app.sync import InProcess, create_or_get_active_run, execute_run
from tests.helpers import configure
from tests.helpers.org_compare import assert_db_equals_org

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)  # a Tuesday morning: sessions keep starting
LAG_MINUTES = 15
INTERVAL_SECONDS = 15 * 60  # the default schedule


def sync(kind: str):
    run, created = create_or_get_active_run(kind, trigger="schedule", backend=InProcess())
    assert created
    return execute_run(run.pk, backend=InProcess())


def traveller_now(_traveller) -> datetime:
    """The app's (pinned) clock."""
    return timezone.now()


def api_state(org) -> dict:
    """Rooms, sessions and participants as the API shows them now."""
    state = {}
    for room in org.room_items():
        state[("room", room["roomName"])] = room
        for session in org.session_items(room["roomName"]):
            state[("session", session["roomSessionId"])] = (room["roomName"], session)
            for person in org.participant_items(session["roomSessionId"]):
                state[("person", session["roomSessionId"], person["participantId"])] = person
    return state


def test_incremental_syncs_converge_under_lag(simulator_factory, settings, redis_conn):
    server = simulator_factory(
        seed=4,
        rooms=6,
        sessions_per_room=30,
        participants_per_session=3,
        days=5,
        live=True,
        now=NOW.isoformat(),
        lag_minutes=LAG_MINUTES,
    )
    org = server.organisation
    # docs/budget.md: the lookback is the lag plus one interval.
    configure(settings, server, DETAIL_POLICY="none", LOOKBACK_MINUTES=LAG_MINUTES + INTERVAL_SECONDS // 60)
    with time_machine.travel(NOW, tick=False) as traveller:
        assert sync("full").status == "succeeded"
        assert_db_equals_org(org, details="none")
        changes_seen = 0
        calls: list[int] = []
        for _step in range(10):  # two and a half hours of scheduled runs
            before = api_state(org)
            org.advance(INTERVAL_SECONDS)
            traveller.shift(INTERVAL_SECONDS)
            after = api_state(org)
            changed = {key for key, value in after.items() if before.get(key) != value}
            changes_seen += len(changed)
            rooms_changed = {k[1] for k in changed if k[0] == "room"}
            sessions_changed = {k[1] for k in changed if k[0] == "session"}
            sessions_with_people_changed = {k[1] for k in changed if k[0] == "person"}
            lag_open = {
                (s.room.room_name, s.room_session_id)
                for s in RoomSession.objects.select_related("room").filter(ended_at__isnull=True)
            }
            server.reset_counters()
            run = sync("incremental")
            assert run.status == "succeeded", run.error
            # The database equals what the (lagging) API shows now: nothing missed, nothing stale.
            assert_db_equals_org(org, details="none")
            # Calls: one rooms page; the sessions of rooms that changed or that the lag keeps open
            # (a session the database holds as ongoing, or ended within the lookback); the
            # participants of sessions that changed or that the lag keeps open. Nothing else.
            recent = traveller_now(traveller) - timedelta(
                minutes=settings.WHEREBY_INSIGHTS["LOOKBACK_MINUTES"]
            )
            held_open = {
                (s.room.room_name, s.room_session_id)
                for s in RoomSession.objects.select_related("room").filter(
                    Q(ended_at__isnull=True) | Q(ended_at__gte=recent)
                )
            } | lag_open
            assert server.counters["/insights/rooms"] == 1
            # (Counted per room and per session read: a listing may take more than one page.)
            rooms_read = {
                r.query["roomName"] for r in server.request_log if r.path == "/insights/room-sessions"
            }
            assert rooms_read <= rooms_changed | {room for room, _sid in held_open}
            sessions_read = [
                r.query["roomSessionId"] for r in server.request_log if r.path == "/insights/participants"
            ]
            assert len(sessions_read) == len(set(sessions_read))
            assert set(sessions_read) <= sessions_changed | sessions_with_people_changed | {
                s for _r, s in held_open
            }
            calls.append(sum(server.counters.values()))
            assert server.counters["/insights/participant"] == 0
        assert changes_seen > 0, "the live organisation must have changed for this test to mean anything"
        full_walk = 1 + len(org.room_items()) + sum(1 for k in api_state(org) if k[0] == "session")
        assert max(calls) < full_walk / 4, (calls, full_walk)
        # After the lag has passed with no new activity, the last sessions are final in the database too.
        org.advance(LAG_MINUTES * 60)
        traveller.shift(LAG_MINUTES * 60)
        assert sync("incremental").status == "succeeded"
        assert_db_equals_org(org, details="none")
