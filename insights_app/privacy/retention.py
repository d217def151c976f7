"""Retention: connections older than PERSONAL_DATA_RETENTION_DAYS keep their numbers, not their people."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from ..conf import get_settings
from ..models import Participant, PrivacyAction, PrivacyAudit
from ..rollups.marks import flush as flush_rollups
from .hooks import PSEUDONYMISE, retention_cutoff
from .rewrite import pseudonymise_participants

logger = logging.getLogger(__name__)


@dataclass
class RetentionResult:
    """What one retention pass did."""

    cutoff: datetime | None = None
    batches: int = 0
    participants: int = 0
    details: int = 0
    finished: bool = True


def pending_retention(cutoff: datetime) -> Any:
    """Connections that joined before ``cutoff`` and still hold personal data (a partial index)."""
    return Participant.objects.filter(pseudonymised_at__isnull=True, joined_at__lt=cutoff)


def run_retention(
    *,
    batch_size: int | None = None,
    max_seconds: float | None = None,
    should_stop: Callable[[], bool] | None = None,
    trigger: str = "schedule",
    user: Any = None,
) -> RetentionResult:
    """Pseudonymise every connection past the retention period, one committed batch at a time.

    Idempotent and resumable: each batch commits with its audit row, and a later pass starts from
    what is left. Stops early (``finished`` False) after ``max_seconds`` or when ``should_stop()``.
    """
    now = timezone.now()
    cutoff = retention_cutoff(now)
    result = RetentionResult(cutoff=cutoff)
    if cutoff is None:
        return result
    size = int(batch_size or get_settings().RETENTION_BATCH_SIZE)
    began = time.monotonic()
    actor = getattr(user, "get_username", lambda: "")() or trigger
    # Each batch starts where the last one ended: index entries of rows already done stay behind
    # until VACUUM, and an index scan from the start would step over all of them every time.
    resume_at: datetime | None = None
    while True:
        if (should_stop and should_stop()) or (
            max_seconds is not None and time.monotonic() - began >= max_seconds
        ):
            result.finished = False
            break
        with transaction.atomic():
            pending = pending_retention(cutoff).order_by("joined_at")
            if resume_at is not None:
                pending = pending.filter(joined_at__gte=resume_at)
            if connection.features.has_select_for_update_skip_locked:
                # Two passes at once (a slow one and the next scheduled one) take different batches.
                pending = pending.select_for_update(skip_locked=True, of=("self",))
            batch = list(pending.values_list("pk", "joined_at")[:size])
            if not batch:
                break
            pks = [pk for pk, _ in batch]
            resume_at = batch[-1][1]
            participants, details = pseudonymise_participants(pks, now)
            PrivacyAudit.objects.create(
                action=PrivacyAction.RETENTION,
                mode=PSEUDONYMISE,
                at=now,
                trigger=trigger,
                user=user if getattr(user, "pk", None) else None,
                actor=actor,
                cutoff=cutoff,
                participants=participants,
                details=details,
            )
            flush_rollups()  # the stale marks of the batch's days commit with it
        result.batches += 1
        result.participants += participants
        result.details += details
    logger.info(
        "retention: %d connections and %d detail rows pseudonymised in %d batches (cutoff %s)",
        result.participants,
        result.details,
        result.batches,
        cutoff.isoformat(),
    )
    return result
