"""Erasure: forget one person (by external id, user id or display name) everywhere we hold them."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ..conf import get_settings
from ..models import (
    CriterionKind,
    Participant,
    ParticipantDetail,
    PersonTombstone,
    PrivacyAction,
    PrivacyAudit,
    SyncRun,
)
from ..rollups.marks import flush as flush_rollups
from .hooks import DELETE, ERASURE_MODES, registered_erasers
from .payloads import erase_values
from .pseudonyms import criterion_hash, pseudonym
from .rewrite import delete_participants, pseudonymise_participants

logger = logging.getLogger(__name__)
BATCH = 1000


class ErasureError(ValueError):
    """A request that cannot be carried out; the message says why (and never holds the value)."""


@dataclass
class ErasureResult:
    """What an erasure did, or would do with ``dry_run``."""

    kind: str
    criterion_hash: str
    mode: str
    dry_run: bool
    participants: int = 0
    details: int = 0
    other_rows: dict[str, int] = field(default_factory=dict)


def _matching(kind: str, values: list[str]) -> QuerySet:
    """Connections naming the person in the column, by value or by its pseudonym."""
    condition = Q(**{f"{kind}__in": values})
    if kind == CriterionKind.DISPLAY_NAME:
        # A detail item can carry a name its connection does not (a rename mid-call).
        condition |= Q(
            pk__in=ParticipantDetail.objects.filter(display_name__in=values).values("participant_id")
        )
    return Participant.objects.filter(condition)


def forget_person(
    kind: str,
    value: str,
    *,
    mode: str | None = None,
    dry_run: bool = False,
    trigger: str = "command",
    user: Any = None,
    actor: str = "",
) -> ErasureResult:
    """Pseudonymise or delete every row naming this person, record a tombstone and an audit row."""
    if kind not in CriterionKind.values:
        raise ErasureError(f"unknown criterion {kind!r}; expected one of {', '.join(CriterionKind.values)}")
    if not isinstance(value, str) or not value.strip():
        raise ErasureError(f"the {kind.replace('_', ' ')} to forget is empty")
    mode = mode or get_settings().ERASURE_MODE
    if mode not in ERASURE_MODES:
        raise ErasureError(f"unknown erasure mode {mode!r}; expected one of {', '.join(ERASURE_MODES)}")
    now = timezone.now()
    digest = criterion_hash(kind, value)
    values = [value, pseudonym(value)]
    result = ErasureResult(kind=kind, criterion_hash=digest, mode=mode, dry_run=dry_run)

    with transaction.atomic():
        pks = list(_matching(kind, values).order_by("pk").values_list("pk", flat=True))
        runs = SyncRun.objects.filter(scope__external_id__in=values) if kind == "external_id" else None
        if dry_run:
            result.participants = len(pks)
            result.details = sum(
                ParticipantDetail.objects.filter(participant_id__in=pks[i : i + BATCH]).count()
                for i in range(0, len(pks), BATCH)
            )
            if runs is not None:
                result.other_rows["sync runs"] = runs.count()
        else:
            for start in range(0, len(pks), BATCH):
                chunk = pks[start : start + BATCH]
                if mode == DELETE:
                    participants, details = delete_participants(chunk)
                else:
                    participants, details = pseudonymise_participants(chunk, now)
                result.participants += participants
                result.details += details
            if runs is not None:
                result.other_rows["sync runs"] = _scrub_runs(runs, value)
        counts = [
            eraser(kind=kind, values=values, mode=mode, dry_run=dry_run, now=now)
            for eraser in registered_erasers()
        ]
        # Last: whatever the rows and erasers above left, in any payload, by value.
        counts.append(erase_values(values, mode=mode, dry_run=dry_run))
        for found in counts:
            for label, count in found.items():
                result.other_rows[label] = result.other_rows.get(label, 0) + count
        if not dry_run:
            PersonTombstone.objects.update_or_create(
                kind=kind, criterion_hash=digest, defaults={"mode": mode, "created_at": now}
            )
            PrivacyAudit.objects.create(
                action=PrivacyAction.ERASURE,
                mode=mode,
                at=now,
                trigger=trigger,
                user=user if getattr(user, "pk", None) else None,
                actor=actor or getattr(user, "get_username", lambda: "")() or trigger,
                criterion_kind=kind,
                criterion_hash=digest,
                participants=result.participants,
                details=result.details,
                other_rows=result.other_rows,
            )
        flush_rollups()  # the stale marks of the erased connections' days commit with the erasure
    logger.info(
        "erasure%s by %s %s…: %d connections, %d detail rows, other %s (%s)",
        " (dry run)" if dry_run else "",
        kind,
        digest[:12],
        result.participants,
        result.details,
        result.other_rows,
        mode,
    )
    return result


def _scrub_runs(runs: QuerySet, value: str) -> int:
    """External-id runs name the id in their scope: keep the run, with the pseudonym instead."""
    changed = 0
    for run in runs.only("pk", "scope"):
        run.scope = {**run.scope, "external_id": pseudonym(value)}
        run.save(update_fields=["scope"])
        changed += 1
    return changed
