"""Defects found in review, each pinned: history never lost, hostile values stored, errors contained."""

from __future__ import annotations

import pytest
from django.utils import timezone

from insights_app.errors import ConfigurationError
from insights_app.models import Participant, ParticipantDetail, Room, RoomSession, SyncRun
from insights_app.simulator import FaultConfig
from insights_app.sync import InProcess, create_or_get_active_run
from insights_app.sync.context import RunContext
from insights_app.sync.details import store_details
from insights_app.sync.items import ROOM_FIELDS, parse_item
from insights_app.sync.service import safe_error
from insights_app.sync.stages import RoomRef, store_participant_page, store_session_page
from insights_app.whereby.client import WherebyClient
from insights_app.whereby.pages import Page
from tests.helpers import DETAIL, PARTICIPANTS, SESSIONS, TEST_API_KEY, configure, run_sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(settings, simulator_factory):
    server = simulator_factory(seed=31, rooms=2, sessions_per_room=2, participants_per_session=2)
    configure(settings, server)
    assert run_sync("full").status == "succeeded"
    return server


def context(server) -> RunContext:
    run, _ = create_or_get_active_run(
        "details", trigger="admin", scope={"participant_ids": [1]}, backend=InProcess()
    )
    return RunContext(run, WherebyClient(TEST_API_KEY, server.base_url), backend=InProcess())


def test_a_404_or_an_empty_answer_never_deletes_stored_details(synced):
    ctx = context(synced)
    with_details = Participant.objects.filter(details__isnull=False).distinct()[:2]
    first, second = list(with_details)
    before = {p.pk: list(p.details.values_list("samples", flat=True)) for p in (first, second)}
    quality = {p.pk: (p.quality_degraded, p.max_packet_loss) for p in (first, second)}

    store_details(ctx, [(first.pk, None), (second.pk, [])])

    for participant in (first, second):
        participant.refresh_from_db()
        assert list(participant.details.values_list("samples", flat=True)) == before[participant.pk]
        assert (participant.quality_degraded, participant.max_packet_loss) == quality[participant.pk]
    assert ctx.skip_reasons == {"details: no details for this connection (404)": 1}


def test_nul_characters_and_huge_numbers_are_stored_not_fatal(synced):
    ctx = context(synced)
    session = RoomSession.objects.first()
    item = {
        "roomSessionId": session.room_session_id,
        "participantId": "nul-\x00-id",
        "displayName": "Eve\x00<script>",
        "joinedAt": "2026-10-01T10:00:00.000Z",
        "leftAt": "",
        "rating": 10**400,
        "tags": ["a\x00b"],
        "comment": None,
        "surprise": {"k\x00": "v\x00"},
    }
    page = Page(items=[item], cursor=None, next_cursor=None)

    store_participant_page(
        ctx, page, {session.room_session_id: (session.pk, session.room_id, session.ended_at)}
    )

    stored = Participant.objects.get(participant_id="nul--id")
    assert stored.display_name == "Eve<script>"
    assert stored.left_at is None  # an empty string is no time, not an unreadable one
    assert stored.rating is None
    assert stored.tags == ["ab"]
    assert stored.raw["surprise"] == {"k": "v"}


def test_an_empty_date_is_null_and_an_unreadable_one_skips_the_item():
    parsed = parse_item({"roomName": "/r", "endAt": "", "createdAt": None}, ROOM_FIELDS)
    assert parsed.values["end_at"] is None
    with pytest.raises(ValueError, match="unparsable createdAt"):
        parse_item({"roomName": "/r", "createdAt": "31/02/2026"}, ROOM_FIELDS)


def test_a_room_listed_with_a_bad_field_is_not_marked_missing(settings, simulator_factory):
    server = simulator_factory(seed=32, rooms=3, sessions_per_room=1, participants_per_session=1)
    configure(settings, server)
    run_sync("full")
    server.faults = FaultConfig(
        corrupt_item_rate=1.0, corrupt_kinds=("bad_date",), only_paths=["/insights/rooms"]
    )

    run = run_sync("incremental")

    assert run.rooms_skipped == 3
    assert not Room.objects.filter(missing_since__isnull=False).exists()


def test_a_detail_that_cannot_be_read_is_skipped_and_the_rest_goes_on(settings, simulator_factory):
    server = simulator_factory(seed=33, rooms=3, sessions_per_room=2, participants_per_session=3)
    configure(settings, server, MAX_RETRIES=0)
    server.faults = FaultConfig(malformed_json_rate=1.0, only_paths=[DETAIL])

    run = run_sync("full")

    assert run.status == "partial"
    expected_sessions = sum(
        len(server.organisation.session_items(r["roomName"])) for r in server.organisation.room_items()
    )
    assert RoomSession.objects.count() == expected_sessions
    assert Participant.objects.count() == run.participants_created > 0
    assert ParticipantDetail.objects.count() == 0
    assert run.details_skipped == server.counters[DETAIL] > 1  # each connection was still asked for
    # Nothing was marked complete, so the next run asks again.
    assert not Participant.objects.filter(details_synced_at__isnull=False).exists()


def test_a_detail_outage_ends_the_run_quickly_instead_of_grinding_through_every_connection(
    settings, simulator_factory
):
    server = simulator_factory(seed=33, rooms=3, sessions_per_room=2, participants_per_session=3)
    configure(settings, server, MAX_RETRIES=2, FETCH_CONCURRENCY=2)
    server.faults = FaultConfig(error_rate=1.0, only_paths=[DETAIL])

    run = run_sync("full")

    assert run.status == "failed"
    assert "answered 500" in run.error
    # One connection: a call and two retries; the one fetched beside it (FETCH_CONCURRENCY) ends too.
    assert 3 <= server.counters[DETAIL] <= 2 * 3
    assert Participant.objects.exists()  # what was stored before the outage stays


def test_one_failing_session_does_not_stop_its_room(settings, simulator_factory):
    server = simulator_factory(seed=34, rooms=1, sessions_per_room=4, participants_per_session=2)
    configure(settings, server, MAX_RETRIES=0)
    # Every participants answer is unreadable: a problem with those sessions, not an outage.
    server.faults = FaultConfig(malformed_json_rate=1.0, only_paths=[PARTICIPANTS])

    run = run_sync("full")

    assert run.status == "partial"
    assert server.counters[PARTICIPANTS] == 4  # every session was still asked for
    assert server.counters[SESSIONS] == 1
    assert sum(1 for reason in run.skip_reasons if reason.startswith("session ")) == 4
    assert not Participant.objects.exists()


def test_a_key_with_a_trailing_newline_is_refused_without_echoing_it(simulator, settings):
    with pytest.raises(ConfigurationError, match="whitespace or control characters") as caught:
        WherebyClient("sk_live_SECRET123\n", simulator.base_url)
    assert "SECRET123" not in str(caught.value)
    settings.WHEREBY_INSIGHTS = {"API_KEY": "sk_live_SECRET123\n"}
    message = safe_error(ValueError("Invalid header value 'Bearer sk_live_SECRET123\\n'"))
    assert "SECRET123" not in message


def test_a_full_run_resumes_only_past_rooms_a_full_pass_finished(settings, simulator_factory):
    server = simulator_factory(seed=35, rooms=4, sessions_per_room=2, participants_per_session=2)
    configure(settings, server)
    run_sync("full")
    failed = SyncRun.objects.create(kind="full", dedup_key="old", trigger="admin", status="failed")
    SyncRun.objects.filter(pk=failed.pk).update(started_at=timezone.now())
    rooms = list(Room.objects.order_by("room_name"))
    # Since the failed full run started: one room got a full pass, another only an incremental one.
    Room.objects.filter(pk=rooms[0].pk).update(
        full_synced_at=timezone.now(), sessions_synced_at=timezone.now()
    )
    Room.objects.filter(pk=rooms[1].pk).update(sessions_synced_at=timezone.now())
    server.reset_counters()

    resumed = run_sync("full")

    assert resumed.status == "succeeded"
    assert resumed.checkpoint["rooms_to_sync"] == 3  # only the fully passed room is skipped
    assert SESSIONS in server.counters


def test_sessions_of_a_room_keep_the_room_they_were_asked_for(synced):
    ctx = context(synced)
    room = Room.objects.first()
    item = {"roomSessionId": "s-new", "roomName": None, "startedAt": "2026-10-01T10:00:00Z", "endedAt": None}
    store_session_page(ctx, RoomRef(room.pk, room.room_name, ""), Page([item], None, None), force=False)
    stored = RoomSession.objects.get(room_session_id="s-new")
    assert stored.room_id == room.pk and stored.room_name == room.room_name


def test_a_connection_without_left_at_in_an_ended_session_lasts_until_the_session_end(synced):
    ctx = context(synced)
    session = RoomSession.objects.filter(ended_at__isnull=False).first()
    joined = session.started_at
    item = {
        "roomSessionId": session.room_session_id,
        "participantId": "never-left",
        "joinedAt": joined.isoformat().replace("+00:00", "Z"),
        "leftAt": None,
    }
    keys = {session.room_session_id: (session.pk, session.room_id, session.ended_at)}
    store_participant_page(ctx, Page([item], None, None), keys)

    stored = Participant.objects.get(participant_id="never-left")
    assert stored.left_at is None  # the API's value is kept as it is
    assert stored.duration_seconds == (session.ended_at - joined).total_seconds()

    ongoing = {session.room_session_id: (session.pk, session.room_id, None)}
    item["participantId"] = "still-here"
    store_participant_page(ctx, Page([item], None, None), ongoing)
    assert Participant.objects.get(participant_id="still-here").duration_seconds is None
