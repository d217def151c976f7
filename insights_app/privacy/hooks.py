"""What the sync asks before it stores participants and details, and what erasure tells other parts.

The sync calls ``protect_participant_rows`` and ``protect_detail_rows`` just before its upsert, so
a pseudonymised connection, a connection older than the retention period and a forgotten person
never get their personal fields (or, in delete mode, their rows) back from the API.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q

from ..conf import get_settings
from ..models import CriterionKind, Participant, PersonTombstone
from .pseudonyms import criterion_hash
from .scrub import scrub_detail, scrub_participant

DELETE = "delete"
PSEUDONYMISE = "pseudonymise"
ERASURE_MODES = (PSEUDONYMISE, DELETE)
CRITERIA = tuple(CriterionKind.values)


def retention_cutoff(now: datetime) -> datetime | None:
    """Connections that joined before this instant keep no personal data; None keeps everything."""
    days = get_settings().PERSONAL_DATA_RETENTION_DAYS
    if days is None:
        return None
    return now - timedelta(days=float(days))


def _tombstone_modes(rows: list[dict[str, Any]]) -> dict[int, str]:
    """Index of each row naming a forgotten person -> that erasure's mode (one query, two with any)."""
    if not PersonTombstone.objects.exists():  # nobody forgotten: no hash to compute, no list to send
        return {}
    wanted: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        for kind in CRITERIA:
            value = row.get(kind)
            if isinstance(value, str) and value:
                wanted.setdefault(criterion_hash(kind, value), []).append(index)
    if not wanted:
        return {}
    modes: dict[int, str] = {}
    for digest, mode in PersonTombstone.objects.filter(criterion_hash__in=list(wanted)).values_list(
        "criterion_hash", "mode"
    ):
        for index in wanted[digest]:
            # Delete wins over pseudonymise when two erasures name the same connection.
            if modes.get(index) != DELETE:
                modes[index] = mode
    return modes


def protect_participant_rows(
    rows: list[dict[str, Any]], now: datetime, *, sessions_are_new: bool = False
) -> list[dict[str, Any]]:
    """Participant rows as the sync may store them: personal fields scrubbed where they must be.

    ``sessions_are_new``: the rows' sessions were created by this run, so none of their connections
    is stored, let alone pseudonymised, and that lookup is skipped (tombstones and retention still apply).
    """
    if not rows:
        return rows
    cutoff = retention_cutoff(now)
    forgotten = _tombstone_modes(rows)
    done: set[tuple[int, str]] = set()
    if not sessions_are_new:
        done = set(
            Participant.objects.filter(
                room_session_id__in={row["room_session_id"] for row in rows},
                participant_id__in={row["participant_id"] for row in rows},
                pseudonymised_at__isnull=False,
            ).values_list("room_session_id", "participant_id")
        )
    kept = []
    for index, row in enumerate(rows):
        if forgotten.get(index) == DELETE:
            continue
        joined = row.get("joined_at")
        if (
            index in forgotten
            or (row["room_session_id"], row["participant_id"]) in done
            or (cutoff is not None and joined is not None and joined < cutoff)
        ):
            row = {**scrub_participant(row), "pseudonymised_at": now}
        kept.append(row)
    return kept


def protect_detail_rows(rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Detail rows as the sync may store them: scrubbed for connections that keep no personal data."""
    if not rows:
        return rows
    cutoff = retention_cutoff(now)
    pks = {row["participant_id"] for row in rows}
    condition = Q(pseudonymised_at__isnull=False)
    if cutoff is not None:
        condition |= Q(joined_at__lt=cutoff)
    scrubbed = set(Participant.objects.filter(condition, pk__in=pks).values_list("pk", flat=True))
    return [scrub_detail(row) if row["participant_id"] in scrubbed else row for row in rows]


# Erasure hooks: other parts of the app (webhook presence, ...) register a function here that
# pseudonymises or deletes what they hold about a person and returns {label: rows touched}.
Eraser = Callable[..., dict[str, int]]
_erasers: list[Eraser] = []


def register_eraser(eraser: Eraser) -> Eraser:
    """Register ``eraser(kind=, values=, mode=, dry_run=, now=) -> {label: count}``; usable as a decorator."""
    if eraser not in _erasers:
        _erasers.append(eraser)
    return eraser


def registered_erasers() -> list[Eraser]:
    """The erasers registered so far, in registration order."""
    return list(_erasers)
