"""Per-connection quality details: which connections need them, fetching them in batches, storing
the samples with their summaries and refreshing the participants' quality columns."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import closing
from datetime import timedelta
from typing import Any

from django.db import connections, router

from ..errors import FATAL_ERRORS, OUTAGE_ERRORS, NotFound, WherebyError
from ..models import Participant, ParticipantDetail
from ..privacy.bulk import update_by_pk
from ..privacy.hooks import protect_detail_rows
from ..whereby.fetchpool import Ahead
from . import sqlwrite
from .context import Cancelled, RunContext, page_transaction
from .detail_rows import DetailRows, detail_rows
from .items import DETAIL_FIELDS
from .quality import participant_quality
from .upsert import upsert_rows

logger = logging.getLogger(__name__)

DETAIL_SUMMARY = (
    "sample_count",
    "avg_packet_loss_send",
    "max_packet_loss_send",
    "avg_packet_loss_recv",
    "max_packet_loss_recv",
    "avg_bitrate_send",
    "avg_bitrate_recv",
    "degraded_seconds",
)
UA_COLUMNS = ("browser", "browser_version", "os", "os_version", "device")
DETAIL_COMPARE = (
    *(c for _, c, _k in DETAIL_FIELDS),
    "samples",
    "packet_loss_unit",
    *DETAIL_SUMMARY,
    *UA_COLUMNS,
    "raw",
)
PARTICIPANT_QUALITY = (
    "quality_degraded",
    "degraded_seconds",
    "max_packet_loss",
    "avg_packet_loss",
    "browser",
    "os",
    "device",
    "details_synced_at",
)
# Connections whose details are stored in one transaction (a crash loses at most these).
DETAIL_BATCH = 50
# Detail calls handed to the fetch threads ahead of the one the sync's thread stores: two batches,
# so they keep fetching while a batch is parsed and written (AHEAD a thread left them idle for most
# of it); each answer is one connection's arrays, so memory stays bounded (bench/RESULTS.md, issue 28).
DETAILS_AHEAD = 2 * DETAIL_BATCH


def pending_details(ctx: RunContext, policy: str, *, room_pks: Iterable[int] | None = None) -> Any:
    """Ended connections (older than the data-lag lookback) that lack details, per the detail policy."""
    if policy == "none":
        return Participant.objects.none()
    settled = ctx.now - ctx.lookback
    qs = Participant.objects.filter(
        details_synced_at__isnull=True, left_at__isnull=False, left_at__lte=settled
    )
    if policy == "recent":
        qs = qs.filter(left_at__gte=ctx.now - timedelta(days=ctx.conf.DETAIL_RECENT_DAYS))
    if room_pks is not None:
        qs = qs.filter(room_session__room_id__in=list(room_pks))
    return qs


def sync_details(
    ctx: RunContext, participants: Iterable[tuple[int, str, str]], *, count_progress: bool = False
) -> None:
    """Fetch and store the detail array of each (pk, room_session_id, participant_id), in small batches.

    A connection the API cannot answer for is skipped with its reason and left pending; the others
    go on, and arrays already fetched are stored even when a fatal error ends the run.
    """
    batch: list[tuple[int, DetailRows | None]] = []
    client = ctx.client
    threshold, unit = ctx.conf.DEGRADED_PACKET_LOSS_PERCENT, ctx.conf.PACKET_LOSS_UNIT
    connection = connections[router.db_for_write(ParticipantDetail)]
    samples_text = sqlwrite.usable(connection)  # the write takes the samples' JSON text there

    def fetch(target: tuple[int, str, str]) -> DetailRows:
        # Parsed in the fetch thread (no database), while the sync's thread waits on a write.
        items = client.get_participant_details(target[1], target[2])
        return detail_rows(items, threshold=threshold, declared_unit=unit, samples_text=samples_text)

    fetched = client.in_parallel(  # FETCH_CONCURRENCY at once; the targets are read by this thread
        fetch, participants, stop_on=(*FATAL_ERRORS, *OUTAGE_ERRORS), ahead=Ahead(_one, DETAILS_AHEAD)
    )
    with closing(fetched):
        try:
            for (pk, _session, _participant), outcome in fetched:
                prepared: DetailRows | None
                if isinstance(outcome, NotFound):
                    prepared = None
                elif isinstance(outcome, (Cancelled, *FATAL_ERRORS, *OUTAGE_ERRORS)):
                    raise outcome
                elif isinstance(outcome, WherebyError):
                    ctx.skip("details", f"{type(outcome).__name__}: {str(outcome)[:120]}")
                    continue
                elif isinstance(outcome, Exception):
                    raise outcome
                else:
                    prepared = outcome
                batch.append((pk, prepared))
                if count_progress:
                    ctx.progress(done=1)
                if len(batch) >= DETAIL_BATCH:
                    full, batch = batch, []
                    store_detail_rows(ctx, full)
                    ctx.flush()
        finally:
            if batch:  # what was fetched before an error is stored, once
                store_detail_rows(ctx, batch)
    ctx.flush()


def _one(_target: Any) -> float:
    return 1.0


def iter_detail_targets(queryset: Any, chunk: int = 500) -> Iterator[tuple[int, str, str]]:
    """(pk, room_session_id, participant_id) of participants, streamed in primary-key order."""
    last = 0
    while True:
        rows = list(
            queryset.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", "room_session__room_session_id", "participant_id")[:chunk]
        )
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def store_details(ctx: RunContext, batch: list[tuple[int, list[dict[str, Any]] | None]]) -> None:
    """Upsert the detail rows of a batch of participants (their arrays as the API sent them, None
    for a 404) and refresh their quality summary."""
    conf = ctx.conf
    store_detail_rows(
        ctx,
        [
            (
                pk,
                None
                if items is None
                else detail_rows(
                    items, threshold=conf.DEGRADED_PACKET_LOSS_PERCENT, declared_unit=conf.PACKET_LOSS_UNIT
                ),
            )
            for pk, items in batch
        ],
    )


def store_detail_rows(ctx: RunContext, batch: list[tuple[int, DetailRows | None]]) -> None:
    """Upsert the detail rows of a batch of participants (None: a 404) and refresh their quality summary."""
    rows: list[dict[str, Any]] = []
    summaries: dict[int, list[dict[str, Any]]] = {}
    kept_positions: dict[int, list[int]] = {}
    incomplete: set[int] = set()
    unanswered: set[int] = set()
    for pk, prepared in batch:
        summaries[pk] = []
        kept_positions[pk] = []
        if prepared is None or not prepared.answered:
            # 404 or an empty array: the API has nothing (any more). What we hold is kept as it is:
            # it may be the only copy left once Whereby's retention has passed.
            if prepared is None:
                ctx.skip("details", "no details for this connection (404)")
            unanswered.add(pk)
            continue
        for skipped, reason in prepared.events:
            if skipped:
                ctx.skip("details", reason)
            else:
                ctx.note("details", reason)
        ctx.ambiguous_loss_items += prepared.ambiguous_units
        if prepared.incomplete:
            incomplete.add(pk)
        for row in prepared.rows:
            row["participant_id"] = pk
        rows.extend(prepared.rows)
        summaries[pk] = prepared.rows
        kept_positions[pk] = prepared.positions
    pks = [pk for pk, _ in batch if pk not in unanswered]
    with page_transaction():
        result = upsert_rows(
            ParticipantDetail,
            protect_detail_rows(rows, ctx.now),  # privacy: scrubbed for connections past retention
            key_fields=("participant_id", "position"),
            compare_fields=DETAIL_COMPARE,
            now=ctx.now,
        )
        # An array that shrank (or an item now refused) leaves no stale rows behind.
        kept = {(pk, position) for pk in pks for position in kept_positions[pk]}
        stale = [
            detail_pk
            for detail_pk, pk, position in ParticipantDetail.objects.filter(
                participant_id__in=pks
            ).values_list("pk", "participant_id", "position")
            if (pk, position) not in kept
        ]
        if stale:
            ParticipantDetail.objects.filter(pk__in=stale).delete()
        participants = []
        for pk in pks:
            quality = participant_quality(summaries[pk], ctx.conf.DEGRADED_MIN_SECONDS)
            # A connection with a refused item stays pending, so the next run asks again.
            synced_at = None if pk in incomplete else ctx.now
            participants.append({"pk": pk, **quality, "details_synced_at": synced_at})
        update_by_pk(Participant, participants, PARTICIPANT_QUALITY)
        if unanswered:
            Participant.objects.filter(pk__in=unanswered, details_synced_at__isnull=True).update(
                details_synced_at=ctx.now
            )
    ctx.count("details", result)
