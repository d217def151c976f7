"""Recompute quality summaries from stored samples, after the thresholds or the loss unit changed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q

from ..conf import get_settings
from ..models import Participant, ParticipantDetail, SyncRun
from ..models.participant_detail import DEFAULT_SAMPLE_RATE_MS
from ..rollups.marks import mark_rows
from .context import page_transaction
from .details import DETAIL_SUMMARY, PARTICIPANT_QUALITY
from .quality import LOSS_KEYS, participant_quality, summarise

CHUNK = 500


@dataclass
class RecomputeResult:
    """How many rows were read and rewritten."""

    details: int = 0
    participants: int = 0
    reread_unit: int = 0


def _reinterpret(detail: ParticipantDetail, declared: str) -> bool:
    """Re-read an ambiguous item's loss unit as ``declared``; True when its samples changed.

    Stored samples are percent. An item read as a fraction had every original value within 0-1;
    an item read as percent whose values are all within 0-1 could have been a fraction.
    """
    values = [v for key in LOSS_KEYS for v in detail.samples.get(key, []) if v is not None]
    if declared == "percent" and detail.packet_loss_unit == "fraction":
        factor, unit = 0.01, "percent"
    elif declared == "fraction" and detail.packet_loss_unit == "percent" and values and max(values) <= 1.0:
        factor, unit = 100.0, "fraction"
    else:
        return False
    for key in LOSS_KEYS:
        detail.samples[key] = [None if v is None else v * factor for v in detail.samples.get(key, [])]
    detail.packet_loss_unit = unit
    return True


class SyncInProgress(Exception):
    """A sync is queued or running; recomputing beside it could write back stale samples."""


def recompute_quality(*, progress: Callable[[int], None] | None = None) -> RecomputeResult:
    """Rewrite every detail summary and participant quality column from the stored samples; no API call."""
    active = SyncRun.objects.active().order_by("pk").first()
    if active is not None:
        raise SyncInProgress(f"sync run #{active.pk} is {active.status}: recompute once it has finished")
    conf = get_settings()
    threshold = conf.DEGRADED_PACKET_LOSS_PERCENT
    declared = conf.PACKET_LOSS_UNIT
    result = RecomputeResult()
    last = 0
    while True:
        ids = list(
            Participant.objects.filter(pk__gt=last)
            .filter(Exists(ParticipantDetail.objects.filter(participant=OuterRef("pk"))))
            .order_by("pk")
            .values_list("pk", flat=True)[:CHUNK]
        )
        if not ids:
            return result
        last = ids[-1]
        details = list(
            ParticipantDetail.objects.filter(Q(participant_id__in=ids)).order_by("participant_id", "position")
        )
        by_participant: dict[int, list[dict]] = {pk: [] for pk in ids}
        for detail in details:
            if declared in ("fraction", "percent") and _reinterpret(detail, declared):
                result.reread_unit += 1
            step = (detail.sample_rate_ms or DEFAULT_SAMPLE_RATE_MS) / 1000.0
            for column, value in summarise(detail.samples, step, threshold).items():
                setattr(detail, column, value)
            by_participant[detail.participant_id].append(
                {c: getattr(detail, c) for c in (*DETAIL_SUMMARY, "browser", "os", "device")}
            )
        with page_transaction():
            ParticipantDetail.objects.bulk_update(details, [*DETAIL_SUMMARY, "samples", "packet_loss_unit"])
            participants = [
                Participant(pk=pk, **participant_quality(rows, conf.DEGRADED_MIN_SECONDS))
                for pk, rows in by_participant.items()
                if rows
            ]
            fields = [f for f in PARTICIPANT_QUALITY if f != "details_synced_at"]
            Participant.objects.bulk_update(participants, fields)
            mark_rows(Participant, [p.pk for p in participants])
        result.details += len(details)
        result.participants += len(participants)
        if progress is not None:
            progress(result.participants)
