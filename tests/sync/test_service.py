"""The sync engine against the simulator over real HTTP: exact copies, minimum calls, resilience."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from insights_app.models import Participant, ParticipantDetail, Room, RoomSession, SyncRun
from insights_app.simulator import FaultConfig
from insights_app.sync import InProcess, create_or_get_active_run
from insights_app.sync.context import RunContext
from insights_app.sync.service import plan_room_work, work_on_room
from insights_app.sync.stages import list_rooms
from insights_app.whereby.client import WherebyClient
from tests.helpers import DETAIL, PARTICIPANTS, ROOMS, SESSIONS, configure, run_sync
from tests.helpers.org_compare import assert_db_equals_org

pytestmark = pytest.mark.django_db


def minimum_full_calls(org, details: bool = True) -> dict[str, int]:
    """The fewest calls that can copy this organisation (API_NOTES' formula), per endpoint."""
    rooms = org.room_items()
    calls = {ROOMS: max(1, math.ceil(len(rooms) / 100)), SESSIONS: 0, PARTICIPANTS: 0, DETAIL: 0}
    for room in rooms:
        sessions = org.session_items(room["roomName"])
        calls[SESSIONS] += max(1, math.ceil(len(sessions) / 100))
        for session in sessions:
            people = org.participant_items(session["roomSessionId"])
            calls[PARTICIPANTS] += max(1, math.ceil(len(people) / 100))
            if details:
                calls[DETAIL] += sum(1 for p in people if p["leftAt"] is not None)
    return calls


def test_full_sync_copies_the_organisation_exactly_with_the_fewest_calls(settings, simulator_factory):
    server = simulator_factory(seed=3, rooms=6, sessions_per_room=5, participants_per_session=4)
    configure(settings, server)

    run = run_sync("full")

    assert run.status == "succeeded", (run.error, run.skip_reasons)
    counts = assert_db_equals_org(server.organisation)
    assert counts["rooms"] == 6 and counts["sessions"] == 30 and counts["participants"] == 120
    assert counts["details"] > 0
    expected = minimum_full_calls(server.organisation)
    assert dict(server.counters) == {k: v for k, v in expected.items() if v}
    assert run.api_requests == sum(expected.values())
    assert run.rooms_created == 6 and run.sessions_created == 30 and run.participants_created == 120
    assert run.details_created == ParticipantDetail.objects.count()


def test_a_second_full_sync_creates_and_updates_nothing(settings, simulator_factory):
    server = simulator_factory(seed=4, rooms=3, sessions_per_room=3, participants_per_session=3)
    configure(settings, server)
    run_sync("full")
    before = {m: m.objects.count() for m in (Room, RoomSession, Participant, ParticipantDetail)}

    second = run_sync("full")

    assert second.status == "succeeded"
    counts = second.counts()
    for model in ("rooms", "sessions", "participants"):
        assert counts[model]["created"] == 0 and counts[model]["updated"] == 0, model
    assert counts["rooms"]["unchanged"] == 3
    assert counts["participants"]["unchanged"] == 27
    assert {m: m.objects.count() for m in before} == before


def test_incremental_sync_of_an_unchanged_organisation_costs_one_rooms_page(settings, simulator_factory):
    server = simulator_factory(seed=5, rooms=4, sessions_per_room=3, participants_per_session=2)
    configure(settings, server)
    run_sync("full")
    server.reset_counters()

    run = run_sync("incremental")

    assert run.status == "succeeded"
    assert dict(server.counters) == {ROOMS: 1}
    assert run.rooms_unchanged == 4 and run.rooms_updated == 0


def test_incremental_after_the_clock_moves_makes_exactly_the_calls_the_change_needs(
    settings, simulator_factory
):
    server = simulator_factory(
        seed=6, rooms=5, sessions_per_room=20, participants_per_session=3, live=True, days=10
    )
    org = server.organisation
    # One clock for both sides: what has settled and what is recent are judged at the simulator's now.
    with time_machine.travel(org.now, tick=True) as clock:
        configure(settings, server)
        run_sync("full")
        assert_db_equals_org(org)
        held_sessions = {s.room_session_id: s.raw for s in RoomSession.objects.all()}
        held_people = {
            (p.room_session.room_session_id, p.participant_id): p.raw
            for p in Participant.objects.select_related("room_session")
        }
        held_rooms = {r.room_name: r.raw for r in Room.objects.all()}

        org.advance(36 * 3600)  # a day and a half: sessions start and end whatever the weekday
        clock.move_to(org.now)
        server.reset_counters()
        expected = {ROOMS: 1, SESSIONS: 0, PARTICIPANTS: 0, DETAIL: 0}
        for room in org.room_items():
            sessions = org.session_items(room["roomName"])
            ongoing_before = any(
                held_sessions.get(s["roomSessionId"], {}).get("endedAt", "x") is None for s in sessions
            )
            if held_rooms.get(room["roomName"]) == room and not ongoing_before:
                continue
            expected[SESSIONS] += max(1, math.ceil(len(sessions) / 100))
            for session in sessions:
                old = held_sessions.get(session["roomSessionId"])
                if old == session and session["endedAt"] is not None:
                    continue
                people = org.participant_items(session["roomSessionId"])
                expected[PARTICIPANTS] += max(1, math.ceil(len(people) / 100))
                for person in people:
                    was = held_people.get((session["roomSessionId"], person["participantId"]))
                    if person["leftAt"] is not None and (was is None or was["leftAt"] is None):
                        expected[DETAIL] += 1
        assert expected[SESSIONS] > 0, "the clock move should have changed something"

        run = run_sync("incremental")

        assert run.status == "succeeded", run.skip_reasons
        assert dict(server.counters) == {k: v for k, v in expected.items() if v}
        assert_db_equals_org(org)


def test_detail_policy_none_fetches_no_details_and_recent_only_recent_ones(settings, simulator_factory):
    # "recent" is measured from the real clock, so the organisation's history must end now.
    server = simulator_factory(
        seed=7, rooms=3, sessions_per_room=8, participants_per_session=3, days=30, now=timezone.now()
    )
    configure(settings, server, DETAIL_POLICY="none")
    run = run_sync("full")
    assert run.status == "succeeded"
    assert DETAIL not in server.counters
    assert ParticipantDetail.objects.count() == 0
    assert_db_equals_org(server.organisation, details="none")

    settings.WHEREBY_INSIGHTS = {
        **settings.WHEREBY_INSIGHTS,
        "DETAIL_POLICY": "recent",
        "DETAIL_RECENT_DAYS": 7,
    }
    server.reset_counters()
    run_sync("incremental")
    with_details = Participant.objects.filter(details_synced_at__isnull=False)
    assert with_details.exists()
    assert all((timezone.now() - p.left_at).days < 7 for p in with_details)
    assert Participant.objects.filter(left_at__lt=timezone.now() - timedelta(days=8)).exists()
    assert not with_details.filter(left_at__lt=timezone.now() - timedelta(days=7)).exists()
    assert server.counters[DETAIL] == with_details.count()


def test_room_scope_syncs_one_room_and_unknown_room_fails_clearly(settings, simulator_factory):
    server = simulator_factory(seed=8, rooms=4, sessions_per_room=3, participants_per_session=2)
    configure(settings, server)
    name = server.organisation.room_items()[1]["roomName"]

    run = run_sync("room", room_names=[name])

    assert run.status == "succeeded"
    assert list(Room.objects.values_list("room_name", flat=True)) == [name]
    assert RoomSession.objects.count() == len(server.organisation.session_items(name))

    bad = run_sync("room", room_names=["/no-such-room"])
    assert bad.status == "failed"
    assert "no room named '/no-such-room'" in bad.error


def test_external_id_scope_brings_in_the_sessions_it_needs(settings, simulator_factory):
    server = simulator_factory(seed=9, rooms=3, sessions_per_room=4, participants_per_session=4)
    org = server.organisation
    configure(settings, server)
    external = next(
        p["externalId"]
        for room in org.room_items()
        for s in org.session_items(room["roomName"])
        for p in org.participant_items(s["roomSessionId"])
        if p["externalId"]
    )
    expected = {
        (p["roomSessionId"], p["participantId"]) for p in org.participant_items_by_external_id(external)
    }

    run = run_sync("external_id", external_id=external)

    assert run.status == "succeeded", run.skip_reasons
    stored = {
        (p.room_session.room_session_id, p.participant_id)
        for p in Participant.objects.filter(external_id=external).select_related("room_session")
    }
    assert stored == expected
    # Its sessions were unknown, so an organisation run brought them in; each run counts its own calls.
    runs = list(SyncRun.objects.order_by("pk"))
    assert [r.kind for r in runs] == ["external_id", "incremental"]
    assert all(r.status == "succeeded" for r in runs)
    assert sum(r.api_requests for r in runs) == sum(server.counters.values())


def test_bad_items_are_skipped_with_reasons_and_the_rest_is_stored(settings, simulator_factory):
    server = simulator_factory(seed=10, rooms=6, sessions_per_room=3, participants_per_session=3)
    configure(settings, server)
    server.faults = FaultConfig(corrupt_item_rate=0.3, seed=2, only_paths=[ROOMS, SESSIONS, PARTICIPANTS])

    run = run_sync("full")

    assert run.status == "partial"
    skipped = run.rooms_skipped + run.sessions_skipped + run.participants_skipped
    assert skipped > 0
    assert sum(run.skip_reasons.values()) >= skipped
    assert any("missing" in reason or "unparsable" in reason for reason in run.skip_reasons)
    # Unknown fields are kept: mangled items carried a new field that only raw can hold.
    assert any(
        "surpriseField" in row.raw
        for model in (Room, RoomSession, Participant)
        for row in model.objects.all()
    )

    # A full sync re-reads everything, including items that were stored with unreadable fields nulled.
    server.faults = FaultConfig()
    healed = run_sync("full")
    assert healed.status == "succeeded", healed.skip_reasons
    assert_db_equals_org(server.organisation)


def test_a_refused_detail_item_leaves_its_connection_pending_for_the_next_run(settings, simulator_factory):
    server = simulator_factory(seed=14, rooms=4, sessions_per_room=3, participants_per_session=3)
    configure(settings, server)
    server.faults = FaultConfig(corrupt_item_rate=0.5, seed=3, only_paths=[DETAIL])

    run = run_sync("full")

    assert run.status == "partial"
    assert run.details_skipped > 0
    pending = Participant.objects.filter(left_at__isnull=False, details_synced_at__isnull=True).count()
    assert 0 < pending <= run.details_skipped
    server.faults = FaultConfig()
    server.reset_counters()
    again = run_sync("incremental")
    assert again.status == "succeeded"
    assert server.counters[DETAIL] == pending
    assert not Participant.objects.filter(left_at__isnull=False, details_synced_at__isnull=True).exists()


def test_throttle_storm_server_errors_and_truncated_pages_are_waited_out(settings, simulator_factory):
    server = simulator_factory(seed=11, rooms=3, sessions_per_room=2, participants_per_session=2)
    configure(settings, server, MAX_RETRY_WAIT=0.05, MAX_RETRIES=8)
    server.faults = FaultConfig(
        force_throttle=8,
        throttle_ms=20,
        error_rate=0.15,
        truncated_rate=0.1,
        drop_connection_rate=0.05,
        seed=4,
    )

    run = run_sync("full")

    assert run.status == "succeeded", (run.error, run.skip_reasons)
    assert run.api_throttles == 8
    assert run.api_retries >= 8
    assert_db_equals_org(server.organisation)


def test_a_failure_mid_run_keeps_what_was_stored_and_the_next_run_completes(settings, simulator_factory):
    server = simulator_factory(seed=12, rooms=4, sessions_per_room=3, participants_per_session=3)
    configure(settings, server, MAX_RETRIES=1, FETCH_CONCURRENCY=2)
    run_sync("full")
    stored_before = Participant.objects.count()
    org = server.organisation
    org.advance(1)  # nothing moves without live mode; the data stays equal
    server.faults = FaultConfig(error_rate=1.0, only_paths=[PARTICIPANTS])
    server.reset_counters()
    # Make every room and session look changed, so the next run must fetch participants again.
    Room.objects.update(sessions_synced_signature="")
    RoomSession.objects.update(participants_synced_signature="")

    broken = run_sync("incremental")

    # An outage ends the run (RQ's retry would try again later) instead of grinding on.
    assert broken.status == "failed"
    assert "answered 500" in broken.error
    # MAX_RETRIES=1: one call and one retry, then stop; the other session fetched at the same time
    # (FETCH_CONCURRENCY=2) ends as soon as the outage is seen.
    assert 2 <= server.counters[PARTICIPANTS] <= 2 * 2
    assert Participant.objects.count() == stored_before
    server.faults = FaultConfig()
    server.reset_counters()
    healed = run_sync("incremental")
    assert healed.status == "succeeded"
    # The outage stopped the run at its first room: every room (marks reset above) is walked again.
    assert server.counters[SESSIONS] == len(org.room_items())
    assert server.counters[PARTICIPANTS] == RoomSession.objects.count()
    assert_db_equals_org(org)


def test_rooms_that_disappear_are_kept_and_marked(settings, simulator_factory):
    server = simulator_factory(seed=13, rooms=3, sessions_per_room=1, participants_per_session=1)
    configure(settings, server)
    run_sync("full")
    Room.objects.create(room_name="/gone-from-the-api", raw={"roomName": "/gone-from-the-api"})

    run_sync("incremental")

    gone = Room.objects.get(room_name="/gone-from-the-api")
    assert gone.missing_since is not None
    assert Room.objects.filter(missing_since__isnull=True).count() == 3


def test_one_active_run_per_scope(settings, simulator):
    first, created = create_or_get_active_run("incremental", trigger="admin", backend=InProcess())
    second, created_again = create_or_get_active_run("full", trigger="schedule", backend=InProcess())
    assert created and not created_again
    assert second.pk == first.pk
    other, other_created = create_or_get_active_run(
        "room", trigger="admin", scope={"room_names": ["/a"]}, backend=InProcess()
    )
    assert other_created and other.pk != first.pk


def test_a_full_sync_that_died_resumes_after_the_rooms_it_finished(settings, simulator_factory):
    server = simulator_factory(seed=15, rooms=6, sessions_per_room=2, participants_per_session=2)
    org = server.organisation
    configure(settings, server)
    rooms = sorted(r["roomName"] for r in org.room_items())
    # A run that finished three rooms, then its worker was lost.
    finished_before = rooms[:3]
    run, _ = create_or_get_active_run("full", trigger="command", backend=InProcess())
    client = WherebyClient.from_settings()
    ctx = RunContext(run, client, backend=InProcess())
    refs, _listed = list_rooms(ctx)
    for work in plan_room_work(ctx, refs, full=True):
        if work.room_name in finished_before:
            work_on_room(ctx, work)
    SyncRun.objects.filter(pk=run.pk).update(status="failed", started_at=ctx.now, error="worker lost")
    server.reset_counters()

    resumed = run_sync("full")

    assert resumed.status == "succeeded"
    assert "resumed_since" in resumed.checkpoint
    with_sessions = [r for r in rooms[3:] if org.session_items(r)]
    assert server.counters[SESSIONS] == len(with_sessions)
    assert_db_equals_org(org)
