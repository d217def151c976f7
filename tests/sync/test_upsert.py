"""The set-based upsert (one ``INSERT … FROM unnest … ON CONFLICT`` on PostgreSQL) stores exactly the
values it is given, keeps columns it does not update, counts exactly, refuses rather than cuts, and
the item parser's shortcut (one serialisation, no walks) gives what the walks gave."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import DatabaseError, connection, transaction

from insights_app.models import Participant, ParticipantDetail, Room, RoomSession
from insights_app.sync import InProcess, create_or_get_active_run, items
from insights_app.sync.context import RunContext
from insights_app.sync.details import store_details
from insights_app.sync.stages import PARTICIPANT_COMPARE
from insights_app.sync.upsert import upsert_rows
from insights_app.whereby.client import WherebyClient
from tests.helpers import TEST_API_KEY, configure, run_sync

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEY = ("room_session_id", "participant_id")


def _session() -> RoomSession:
    room = Room.objects.create(room_name="/write", first_seen_at=NOW, synced_at=NOW)
    return RoomSession.objects.create(room=room, room_session_id="s-write", first_seen_at=NOW, synced_at=NOW)


def _row(session: RoomSession, participant_id: str, **values) -> dict:
    row = dict.fromkeys(PARTICIPANT_COMPARE)
    row.update(room_session_id=session.pk, room_id=session.room_id, participant_id=participant_id, raw={})
    row["identity"] = ""
    row.update(values)
    return row


def _upsert(rows: list[dict], now: datetime = NOW):
    return upsert_rows(Participant, rows, key_fields=KEY, compare_fields=PARTICIPANT_COMPARE, now=now)


@pytest.mark.django_db
def test_every_kind_of_value_is_stored_as_given_and_missing_columns_get_their_defaults():
    session = _session()
    joined = datetime(2026, 2, 28, 23, 59, 59, 123456, tzinfo=UTC)
    weird = {"ünïcode": "\u2028 line sep 😀", "nested": [1, 2.5, None, {"deep": [True, False]}], "q": "'\"\\"}
    rows = [
        _row(
            session,
            "p1",
            display_name="Zoë 'quoted' \"double\" \\ back",
            joined_at=joined,
            rating=4,
            tags=["a", "ü"],
            raw=weird,
            duration_seconds=1.5,
        ),
        # An int above and a float here: one column, one array of one type.
        _row(session, "p2", rating=2.5, tags=None, comment="", device_id=None),
    ]

    result = _upsert(rows)

    assert (result.created, result.updated, result.unchanged) == (2, 0, 0)
    p1, p2 = Participant.objects.get(participant_id="p1"), Participant.objects.get(participant_id="p2")
    assert result.pks == {(session.pk, "p1"): p1.pk, (session.pk, "p2"): p2.pk}
    assert p1.display_name == "Zoë 'quoted' \"double\" \\ back"
    assert p1.joined_at == joined and p1.rating == 4.0 and p1.duration_seconds == 1.5
    assert p1.tags == ["a", "ü"] and p1.raw == weird
    assert p1.room_id == session.room_id and p1.first_seen_at == NOW and p1.synced_at == NOW
    # None in a JSON column is SQL NULL, as Django stores it; columns the rows do not name get defaults.
    assert Participant.objects.filter(pk=p2.pk, tags__isnull=True).exists()
    assert p2.comment == "" and p2.device_id is None and p2.rating == 2.5
    assert (p2.browser, p2.os, p2.device, p2.quality_degraded, p2.details_synced_at) == (
        "",
        "",
        "",
        None,
        None,
    )


@pytest.mark.django_db
def test_an_update_writes_the_compared_columns_only_and_counts_exactly():
    session = _session()
    first = _upsert([_row(session, "p1", rating=1.0), _row(session, "p2", rating=2.0)])
    # Columns the sync does not compare (set by privacy and the details) survive an update.
    Participant.objects.filter(participant_id="p1").update(
        pseudonymised_at=NOW, details_synced_at=NOW, browser="Firefox", quality_degraded=True
    )
    later = NOW + timedelta(hours=1)

    second = _upsert(
        [_row(session, "p1", rating=5.0), _row(session, "p2", rating=2.0), _row(session, "p3")], later
    )

    assert (second.created, second.updated, second.unchanged) == (1, 1, 1)
    assert second.created_keys == {(session.pk, "p3")}
    assert {k: second.pks[k] for k in first.pks} == first.pks  # the same rows, not new ones
    assert second.pks[(session.pk, "p3")] == Participant.objects.get(participant_id="p3").pk
    p1 = Participant.objects.get(participant_id="p1")
    assert p1.rating == 5.0 and p1.first_seen_at == NOW and p1.synced_at == later
    assert (p1.pseudonymised_at, p1.details_synced_at, p1.browser, p1.quality_degraded) == (
        NOW,
        NOW,
        "Firefox",
        True,
    )
    assert Participant.objects.get(participant_id="p2").synced_at == NOW  # unchanged: not written
    assert Participant.objects.count() == 3


@pytest.mark.django_db
def test_assume_new_over_rows_that_exist_still_upserts_without_duplicates():
    session = _session()
    _upsert([_row(session, "p1", rating=1.0)])
    result = upsert_rows(
        Participant,
        [_row(session, "p1", rating=3.0), _row(session, "p2")],
        key_fields=KEY,
        compare_fields=PARTICIPANT_COMPARE,
        now=NOW,
        assume_new=True,
    )
    assert set(result.pks) == {(session.pk, "p1"), (session.pk, "p2")}
    assert Participant.objects.count() == 2
    assert Participant.objects.get(participant_id="p1").rating == 3.0
    if connection.vendor == "postgresql":  # its upsert says which rows it inserted: counts stay exact
        assert (result.created, result.updated) == (1, 1)
        assert result.created_keys == {(session.pk, "p2")}


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite does not enforce column lengths")
def test_a_value_too_long_for_its_column_fails_the_batch_and_is_never_cut():
    session = _session()
    _upsert([_row(session, "kept", rating=1.0)])
    rows = [_row(session, "p1"), _row(session, "p2", role_name="r" * 65)]  # role_name is varchar(64)
    with pytest.raises(DatabaseError), transaction.atomic():
        _upsert(rows)
    assert list(Participant.objects.values_list("participant_id", flat=True)) == ["kept"]


@pytest.mark.parametrize(
    "item",
    [
        {"participantId": "p", "roomSessionId": "s", "displayName": "plain", "extra": {"x": [1, 2]}},
        {"participantId": "p", "roomSessionId": "s", "displayName": "nul\x00inside", "k\x00ey": ["a\x00"]},
        {"participantId": "p", "roomSessionId": "s", "comment": "c" * (items.RAW_TEXT_LIMIT + 5)},
        {"participantId": "p", "roomSessionId": "s", "comment": "\\u0000 is six characters, not a NUL"},
        {"participantId": "p", "roomSessionId": "s", "long": ["x" * 9000, "y" * 9000], "nul": "\x00"},
    ],
    ids=["plain", "nul", "long string", "escaped-looking", "long item with a nul"],
)
def test_the_parser_shortcut_gives_what_the_full_walks_give(item):
    parsed = items.parse_item(item, items.PARTICIPANT_FIELDS)
    walked = items.without_nul(item)
    assert parsed.signature == items.signature(walked)
    assert parsed.raw == items.bounded_raw(walked)


def _detail(stamp: str, **samples) -> dict:
    series = {"packetLossSend": [], "packetLossRecv": [], "bitrateSend": [], "bitrateRecv": [], **samples}
    return {"timeStamp": stamp, "sampleRateMs": 1000, "samples": series}


@pytest.mark.django_db
def test_stored_details_replace_a_connections_array_and_its_quality_columns(settings, simulator_factory):
    """A shrunk array leaves no stale rows; other connections keep theirs; quality columns follow."""
    server = simulator_factory(seed=31, rooms=1, sessions_per_room=2, participants_per_session=2)
    configure(settings, server, DEGRADED_PACKET_LOSS_PERCENT=5.0, DEGRADED_MIN_SECONDS=1.0)
    assert run_sync("full", details="none").status == "succeeded"
    run, _ = create_or_get_active_run(
        "details", trigger="admin", scope={"participant_ids": [1]}, backend=InProcess()
    )
    ctx = RunContext(run, WherebyClient(TEST_API_KEY, server.base_url), backend=InProcess())
    a, b, c = Participant.objects.order_by("pk").values_list("pk", flat=True)[:3]
    three = [_detail(f"2026-01-01T00:00:0{i}Z") for i in range(3)]
    store_details(ctx, [(a, three), (b, three[:2]), (c, three[:1])])

    loss = {"packetLossSend": [0.0, 50.0, None], "packetLossRecv": [1.0, 2, 3.5]}
    bitrate = {"bitrateSend": [1000, 2000.5, None], "bitrateRecv": [-1.0, 10.0]}  # -1 is dropped
    store_details(
        ctx,
        [
            (a, [_detail("2026-01-01T00:00:00Z", **loss, **bitrate)]),
            (b, [three[0], {"timeStamp": "not a time"}]),
        ],
    )

    positions = {
        pk: sorted(ParticipantDetail.objects.filter(participant_id=pk).values_list("position", flat=True))
        for pk in (a, b, c)
    }
    assert positions == {a: [0], b: [0, 1], c: [0]}  # b's refused item keeps the row stored before
    detail = ParticipantDetail.objects.get(participant_id=a)
    assert detail.samples["bitrateSend"] == [1000.0, 2000.5, None]
    assert detail.samples["bitrateRecv"] == [None, 10.0]
    assert (detail.avg_bitrate_send, detail.max_packet_loss_send, detail.degraded_seconds) == (
        1500.25,
        50.0,
        1.0,
    )
    pa, pb = Participant.objects.get(pk=a), Participant.objects.get(pk=b)
    assert (pa.quality_degraded, pa.degraded_seconds, pa.max_packet_loss) == (True, 1.0, 50.0)
    assert pa.details_synced_at == ctx.now
    assert pb.details_synced_at is None  # a refused item: asked again next time
    assert ctx.skip_reasons["details: bitrateRecv value below 0 (dropped)"] == 1


def test_a_parsed_items_raw_copy_carries_its_json_and_cannot_go_stale():
    """The write stores the text the fingerprint was taken from; nothing may change the item under it."""
    item = {"participantId": "p1", "roomSessionId": "s1", "displayName": "Zoë", "extra": {"b": 1, "a": [2]}}
    raw = items.parse_item(item, items.PARTICIPANT_FIELDS).raw
    assert raw == item
    assert json.loads(raw.json) == item
    with pytest.raises(TypeError):
        raw["displayName"] = "someone else"
    with pytest.raises(TypeError):
        raw.pop("displayName")
    copied = dict(raw)
    copied["displayName"] = "x"  # a copy (as the privacy scrub makes) is a plain dict, without the text
    assert type(copied) is dict and type(copy.deepcopy(raw)) is dict


@pytest.mark.django_db
def test_a_raw_copy_stores_as_the_item_it_was_parsed_from():
    session = _session()
    item = {"participantId": "p1", "roomSessionId": "s1", "displayName": "=cmd|' /C calc'!A0", "n": 1.5}
    raw = items.parse_item(item, items.PARTICIPANT_FIELDS).raw
    _upsert([_row(session, "p1", raw=raw)])
    assert Participant.objects.get(participant_id="p1").raw == item
