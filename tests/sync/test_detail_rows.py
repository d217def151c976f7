"""Detail arrays are parsed without their samples (in the fetch threads) and summarised in C where the
arrays allow, yet store exactly what parsing the whole item gave: the same raw, values, notes and
summaries."""

from __future__ import annotations

import pytest

from insights_app.models import ParticipantDetail
from insights_app.sync import items
from insights_app.sync.detail_rows import detail_rows
from insights_app.sync.quality import normalise_samples, summarise
from insights_app.whereby.client import WherebyClient
from tests.helpers import TEST_API_KEY, configure, run_sync

SERIES = {"packetLossSend": [0.5, 2.0], "packetLossRecv": [1.0, 0.0], "bitrateSend": [1e6], "bitrateRecv": []}
LONG = items.RAW_TEXT_LIMIT + 7


@pytest.mark.parametrize(
    "item",
    [
        {"displayName": "Ana", "timeStamp": "2026-01-01T00:00:00Z", "samples": SERIES},
        {"displayName": "Ana", "samples": {**SERIES, "bitrateRecv": ["1\x00", 2.0]}},  # NUL in samples
        {"displayName": "nul\x00inside", "k\x00ey": ["a\x00"], "samples": SERIES},
        {"displayName": "x" * LONG, "userAgent": "y" * 9000, "samples": {"bitrateSend": [1.0] * 5000}},
        {"displayName": "y" * 9000, "samples": {"bitrateSend": [1.0] * 5000}},  # long only with its samples
        {"displayName": "Ana", "sam\x00ples": 1, "samples": SERIES},  # reads "samples" once NUL-free
        {"timeStamp": "not a time", "samples": SERIES},
        ["not", "an", "object"],
    ],
    ids=["plain", "nul in samples", "nul", "long string", "long with samples", "samples key", "bad", "list"],
)
def test_a_detail_row_is_what_parsing_the_whole_item_gives(item):
    prepared = detail_rows([item], threshold=3.0, declared_unit="auto", samples_text=True)

    try:
        whole = items.parse_item(item, items.DETAIL_FIELDS)
    except items.BadItem as exc:
        assert prepared.events == [(True, str(exc))] and prepared.incomplete and not prepared.rows
        return
    normalised = normalise_samples(item.get("samples"), whole.values["sample_rate_ms"], threshold_percent=3.0)
    (row,) = prepared.rows
    assert row["raw"] == {k: v for k, v in whole.raw.items() if k != "samples"}
    assert {k: row[k] for k in whole.values} == whole.values
    assert row["samples"] == normalised.samples
    assert {k: row[k] for k in normalised.summary} == normalised.summary
    assert prepared.events == [(False, note) for note in (*whole.notes, *normalised.notes)]


@pytest.mark.parametrize("threshold", [3.5, 3, 0.0])
def test_degraded_steps_are_counted_alike_with_and_without_gaps(threshold):
    """Same-length arrays without gaps take a shortcut: it counts what the step-by-step walk counts."""
    send, recv = [1.0, 5.0, 2.0, 6.0, 3.0], [4.0, 1.0, 3.5, 0.5, 2.0]
    bitrate = {"bitrateSend": [], "bitrateRecv": []}
    plain = summarise({"packetLossSend": send, "packetLossRecv": recv, **bitrate}, 1.0, threshold)
    gapped = summarise({"packetLossSend": [*send, None], "packetLossRecv": recv, **bitrate}, 1.0, threshold)
    expected = sum(1 for s, r in zip(send, recv, strict=True) if max(s, r) >= threshold)
    assert plain["degraded_seconds"] == gapped["degraded_seconds"] == expected
    assert plain["avg_packet_loss_send"] == gapped["avg_packet_loss_send"] == 17.0 / 5


@pytest.mark.django_db
def test_a_details_sync_stores_each_item_as_the_api_sent_it(settings, simulator_factory):
    """End to end (parsed in the fetch threads, JSON made there): raw is the item less its samples,
    the samples and summaries are what normalising the item's own samples gives."""
    server = simulator_factory(seed=7, rooms=2, sessions_per_room=2, participants_per_session=3)
    configure(settings, server)

    assert run_sync("full", details="all").status == "succeeded"

    client = WherebyClient(TEST_API_KEY, server.base_url)
    stored = ParticipantDetail.objects.select_related("participant__room_session")
    assert stored.count() > 0
    arrays: dict[int, list] = {}
    for detail in stored:
        participant = detail.participant
        if participant.pk not in arrays:
            arrays[participant.pk] = client.get_participant_details(
                participant.room_session.room_session_id, participant.participant_id
            )
        item = arrays[participant.pk][detail.position]
        normalised = normalise_samples(item["samples"], item["sampleRateMs"], threshold_percent=3.0)
        assert detail.raw == {k: v for k, v in item.items() if k != "samples"}
        assert detail.samples == normalised.samples
        assert detail.packet_loss_unit == normalised.unit
        for column, value in normalised.summary.items():
            assert getattr(detail, column) == pytest.approx(value), column
