"""Per-connection quality details: which connections need them, fetching them in batches, storing
the samples with their summaries and refreshing the participants' quality columns."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import closing
from datetime import timedelta
from typing import Any

from ..errors import FATAL_ERRORS, OUTAGE_ERRORS, NotFound, WherebyError
from ..models import Participant, ParticipantDetail
from ..privacy.bulk import update_by_pk
from ..privacy.hooks import protect_detail_rows
from ..whereby.fetchpool import Ahead
from .context import Cancelled, RunContext, page_transaction
from .items import DETAIL_FIELDS, BadItem, parse_item
from .quality import describe_user_agent, normalise_samples, participant_quality
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
    batch: list[tuple[int, list[dict[str, Any]] | None]] = []
    client = ctx.client
    fetched = client.in_parallel(  # FETCH_CONCURRENCY at once; the targets are read by this thread
        lambda target: client.get_participant_details(target[1], target[2]),
        participants,
        stop_on=(*FATAL_ERRORS, *OUTAGE_ERRORS),
        ahead=Ahead(_one, DETAILS_AHEAD),
    )
    with closing(fetched):
        try:
            for (pk, _session, _participant), outcome in fetched:
                items: list[dict[str, Any]] | None
                if isinstance(outcome, NotFound):
                    items = None
                elif isinstance(outcome, (Cancelled, *FATAL_ERRORS, *OUTAGE_ERRORS)):
                    raise outcome
                elif isinstance(outcome, WherebyError):
                    ctx.skip("details", f"{type(outcome).__name__}: {str(outcome)[:120]}")
                    continue
                elif isinstance(outcome, Exception):
                    raise outcome
                else:
                    items = outcome
                batch.append((pk, items))
                if count_progress:
                    ctx.progress(done=1)
                if len(batch) >= DETAIL_BATCH:
                    full, batch = batch, []
                    store_details(ctx, full)
                    ctx.flush()
        finally:
            if batch:  # what was fetched before an error is stored, once
                store_details(ctx, batch)
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
    """Upsert the detail rows of a batch of participants and refresh their quality summary."""
    threshold = ctx.conf.DEGRADED_PACKET_LOSS_PERCENT
    rows: list[dict[str, Any]] = []
    summaries: dict[int, list[dict[str, Any]]] = {}
    kept_positions: dict[int, list[int]] = {}
    incomplete: set[int] = set()
    unanswered: set[int] = set()
    for pk, items in batch:
        summaries[pk] = []
        kept_positions[pk] = []
        if not items:
            # 404 or an empty array: the API has nothing (any more). What we hold is kept as it is:
            # it may be the only copy left once Whereby's retention has passed.
            if items is None:
                ctx.skip("details", "no details for this connection (404)")
            unanswered.add(pk)
            continue
        for position, item in enumerate(items):
            try:
                parsed = parse_item(item, DETAIL_FIELDS)
            except BadItem as exc:
                ctx.skip("details", str(exc))
                incomplete.add(pk)
                kept_positions[pk].append(position)  # a row stored earlier for it stays
                continue
            normalised = normalise_samples(
                item.get("samples"),
                parsed.values["sample_rate_ms"],
                threshold_percent=threshold,
                declared_unit=ctx.conf.PACKET_LOSS_UNIT,
            )
            for note in (*parsed.notes, *normalised.notes):
                ctx.note("details", note)
            if normalised.ambiguous_unit:
                ctx.ambiguous_loss_items += 1
            raw = {k: v for k, v in parsed.raw.items() if k != "samples"}
            row = {
                **parsed.values,
                **normalised.summary,
                **describe_user_agent(parsed.values["user_agent"]),
                "participant_id": pk,
                "position": position,
                "samples": normalised.samples,
                "packet_loss_unit": normalised.unit,
                "raw": raw,
            }
            rows.append(row)
            summaries[pk].append(row)
            kept_positions[pk].append(position)
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
