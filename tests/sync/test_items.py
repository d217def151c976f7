"""Values real APIs eventually send: absurd dates, megabyte strings, huge and negative numbers."""

from __future__ import annotations

import pytest

from insights_app.models import Participant, ParticipantDetail, Room, RoomSession
from insights_app.simulator import FaultConfig
from insights_app.sync.items import PARTICIPANT_FIELDS, ROOM_FIELDS, parse_item
from insights_app.sync.quality import describe_user_agent, normalise_samples
from tests.helpers import configure, run_sync

pytestmark = pytest.mark.django_db

FAR_FUTURE = "9999-12-31T23:59:59.999Z"
YEAR_ONE = "0001-01-01T00:00:00.000Z"
MEGABYTE = "A" * 1_000_000


def first_connection(server):
    """The first session of the first room, and that session's first connection (simulator records)."""
    room = server.organisation._builder.rooms[0]
    session = room.sessions[0]
    return room, session, session.conns[0]


@pytest.mark.parametrize("value", [FAR_FUTURE, YEAR_ONE, "1970-01-01T00:00:00Z", "0001-01-01T00:00:00+05:00"])
def test_an_absurd_date_is_stored_as_null_with_a_reason(value):
    item = {"roomSessionId": "s", "participantId": "p", "joinedAt": value, "leftAt": "2026-10-01T10:00:00Z"}

    parsed = parse_item(item, PARTICIPANT_FIELDS)

    assert parsed.values["joined_at"] is None
    assert parsed.values["left_at"] is not None
    assert parsed.notes == ("joinedAt outside 2000–2099 (stored as null)",)
    assert parsed.raw["joinedAt"] == value  # the original is kept as received


def test_a_sync_stores_absurd_dates_as_null_and_says_so(settings, simulator_factory):
    server = simulator_factory(seed=41, rooms=1, sessions_per_room=2, participants_per_session=2)
    room, session, conn = first_connection(server)
    conn.extra = {"joinedAt": FAR_FUTURE}
    session.extra = {"startedAt": YEAR_ONE}
    room.extra = {"createdAt": YEAR_ONE, "endAt": FAR_FUTURE}
    configure(settings, server)

    run = run_sync("full")

    assert run.status == "partial"
    stored = Participant.objects.get(participant_id=conn.participant_id)
    assert stored.joined_at is None and stored.raw["joinedAt"] == FAR_FUTURE
    assert RoomSession.objects.get(room_session_id=session.session_id).started_at is None
    stored_room = Room.objects.get(room_name=room.name)
    assert (stored_room.created_at, stored_room.end_at) == (None, None)
    reasons = run.skip_reasons
    assert reasons["participants: joinedAt outside 2000–2099 (stored as null)"] == 1
    assert reasons["sessions: startedAt outside 2000–2099 (stored as null)"] == 1
    assert reasons["rooms: createdAt outside 2000–2099 (stored as null)"] == 1
    # Nothing was skipped: every item is stored, only the absurd values are not.
    assert run.participants_skipped == run.sessions_skipped == run.rooms_skipped == 0
    assert Participant.objects.count() == 4


def test_megabyte_text_is_capped_in_columns_and_bounded_in_raw(settings, simulator_factory):
    server = simulator_factory(seed=42, rooms=1, sessions_per_room=1, participants_per_session=1)
    _room, _session, conn = first_connection(server)
    conn.extra = {"displayName": MEGABYTE, "comment": MEGABYTE, "externalId": "e" * 1000}
    conn.user_agent = "Mozilla/5.0 " + MEGABYTE
    conn.display_name = MEGABYTE
    configure(settings, server)

    run = run_sync("full")

    stored = Participant.objects.get(participant_id=conn.participant_id)
    assert stored.display_name == "A" * 512
    assert stored.comment == "A" * 4096
    assert stored.external_id == "e" * 255
    assert len(stored.raw["displayName"]) == 16_384 and len(stored.raw["comment"]) == 16_384
    detail = ParticipantDetail.objects.filter(participant=stored).first()
    assert len(detail.user_agent) == 1024 and len(detail.display_name) == 512
    assert len(detail.raw["userAgent"]) == 16_384
    assert run.skip_reasons["participants: displayName longer than 512 characters (cut)"] == 1
    assert run.skip_reasons["participants: externalId longer than 255 characters (cut)"] == 1
    assert "details: userAgent longer than 1024 characters (cut)" in run.skip_reasons


def test_the_user_agent_parser_never_sees_more_than_a_kilobyte():
    # The browser is named only after 2,000 characters: a parser given the whole string finds it.
    hidden = "x" * 2000 + " Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0.0.0 Safari/537.36"

    assert describe_user_agent(hidden)["browser"] in ("", "Other")
    assert describe_user_agent(hidden[2001:])["browser"] == "Chrome"


def test_a_headless_chrome_is_named_as_chrome_headless_not_as_a_browser_of_its_own():
    agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36"

    assert describe_user_agent(agent)["browser"] == "Chrome (headless)"
    assert describe_user_agent(agent)["browser_version"] == "120.0"


def test_huge_totals_are_stored_as_null_with_a_reason():
    parsed = parse_item(
        {"roomName": "/r", "totalParticipantMinutes": 1.5e308, "totalSessions": 3}, ROOM_FIELDS
    )

    assert parsed.values["total_participant_minutes"] is None
    assert parsed.values["total_sessions"] == 3
    assert parsed.notes == ("totalParticipantMinutes beyond ±1e+15 (stored as null)",)


def test_samples_of_1e308_never_give_infinite_averages():
    samples = {
        "packetLossSend": [1e308, 1e308, 2.0],
        "packetLossRecv": [0.5, 1.5],
        "bitrateSend": [1e308, 1e308, 500_000],
        "bitrateRecv": [1_000_000, 1_000_000],
    }

    result = normalise_samples(samples, 2000, threshold_percent=3.0)

    assert result.summary["avg_packet_loss_send"] == 2.0
    assert result.summary["avg_bitrate_send"] == 500_000
    assert result.samples["packetLossSend"] == [None, None, 2.0]
    assert set(result.notes) == {
        "packetLossSend value above 100 (dropped)",
        "bitrateSend value above 1e+12 (dropped)",
    }


def test_negative_packet_loss_is_dropped_with_a_reason_and_does_not_lower_the_average():
    samples = {"packetLossSend": [-50.0, 4.0, 6.0], "packetLossRecv": [-0.2, 2.0]}

    result = normalise_samples(samples, 2000, threshold_percent=3.0)

    assert result.samples["packetLossSend"] == [None, 4.0, 6.0]
    assert result.samples["packetLossRecv"] == [None, 2.0]
    assert result.summary["avg_packet_loss_send"] == 5.0
    assert result.summary["max_packet_loss_recv"] == 2.0
    assert set(result.notes) == {
        "packetLossSend value below 0 (dropped)",
        "packetLossRecv value below 0 (dropped)",
    }


def test_a_room_listing_of_only_invalid_items_marks_no_room_missing(settings, simulator_factory):
    server = simulator_factory(seed=43, rooms=3, sessions_per_room=1, participants_per_session=1)
    configure(settings, server, DETAIL_POLICY="none")
    assert run_sync("full").status == "succeeded"
    server.faults = FaultConfig(
        corrupt_item_rate=1.0, corrupt_kinds=("not_an_object", "no_identity"), only_paths=["/insights/rooms"]
    )

    run = run_sync("full")

    assert run.rooms_skipped == 3
    assert Room.objects.count() == 3
    assert not Room.objects.filter(missing_since__isnull=False).exists()


def test_a_complete_listing_still_marks_a_vanished_room_missing(settings, simulator_factory):
    server = simulator_factory(seed=43, rooms=3, sessions_per_room=1, participants_per_session=1)
    configure(settings, server, DETAIL_POLICY="none")
    assert run_sync("full").status == "succeeded"
    Room.objects.create(room_name="/gone-since")

    run_sync("full")

    assert list(Room.objects.filter(missing_since__isnull=False).values_list("room_name", flat=True)) == [
        "/gone-since"
    ]


def test_nan_infinity_and_half_characters_from_the_api_are_stored_without_losing_the_page(
    settings, simulator_factory
):
    # Python's JSON parser accepts NaN, Infinity and lone surrogate escapes ("\ud800"), and no
    # database stores them: one such value used to make the database refuse the page's whole batch.
    server = simulator_factory(seed=43, rooms=1, sessions_per_room=2, participants_per_session=3)
    _room, session, conn = first_connection(server)
    conn.extra = {"displayName": "Ana\ud800", "score": float("nan"), "load": [float("inf"), -float("inf")]}
    session.extra = {"note\udc00": "x"}
    configure(settings, server, DETAIL_POLICY="none")

    run = run_sync("full")

    assert run.status == "succeeded", run.error
    assert Participant.objects.count() == 2 * 3  # every connection of the page stored
    stored = Participant.objects.get(participant_id=conn.participant_id)
    assert stored.display_name == "Ana\ufffd"
    assert stored.raw["score"] is None and stored.raw["load"] == [None, None]
    assert RoomSession.objects.get(room_session_id=session.session_id).raw["note\ufffd"] == "x"
