"""Set-based rewrites shared by retention and erasure: pseudonymise or delete connections by pk."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ..models import Participant, ParticipantDetail
from ..rollups.marks import mark_rows
from ..rollups.people import note_people
from .bulk import update_by_pk
from .scrub import (
    DETAIL_DROPPED_COLUMNS,
    DETAIL_PSEUDONYMISED_COLUMNS,
    DROPPED_COLUMNS,
    PSEUDONYMISED_COLUMNS,
    scrub_detail,
    scrub_participant,
)

PARTICIPANT_WRITTEN = (*PSEUDONYMISED_COLUMNS, *DROPPED_COLUMNS, "raw", "pseudonymised_at")
DETAIL_WRITTEN = (*DETAIL_PSEUDONYMISED_COLUMNS, *DETAIL_DROPPED_COLUMNS, "raw")
# Connections per DELETE statement.
WRITE_BATCH = 500


def pseudonymise_participants(pks: list[int], now: datetime) -> tuple[int, int]:
    """Scrub the connections ``pks`` and their detail rows in a few statements; returns (connections, details)."""
    if not pks:
        return 0, 0
    columns = ("pk", *PSEUDONYMISED_COLUMNS, *DROPPED_COLUMNS, "raw")
    rows = list(Participant.objects.filter(pk__in=pks).values(*columns, "joined_at"))
    participants = [{**scrub_participant(row), "pseudonymised_at": now} for row in rows]
    update_by_pk(Participant, participants, PARTICIPANT_WRITTEN)
    # Who counts as whom (``identity``) stays, so no day is marked; the external id is renamed: both
    # keys' people-year rows are rewritten when the caller flushes (``rollups.marks.flush``).
    note_people(
        [*(row["external_id"] for row in rows), *(row["external_id"] for row in participants)],
        [row["joined_at"] for row in rows],
    )
    detail_columns = ("pk", *DETAIL_PSEUDONYMISED_COLUMNS, *DETAIL_DROPPED_COLUMNS, "raw")
    details = []
    touched = 0
    for row in ParticipantDetail.objects.filter(participant_id__in=pks).values(*detail_columns):
        touched += 1
        clean = scrub_detail(row)
        if clean != row:  # already scrubbed (by the sync's hook): nothing to write
            details.append(clean)
    update_by_pk(ParticipantDetail, details, DETAIL_WRITTEN)
    return len(participants), touched


def delete_participants(pks: Iterable[int]) -> tuple[int, int]:
    """Delete the connections ``pks`` and their detail rows; returns (connections, details)."""
    pks = list(pks)
    details = participants = 0
    for start in range(0, len(pks), WRITE_BATCH):
        chunk = pks[start : start + WRITE_BATCH]
        # Details first, so deleting the connections finds no cascade left to collect row by row.
        details += ParticipantDetail.objects.filter(participant_id__in=chunk).delete()[0]
        mark_rows(Participant, chunk)  # their days marked stale: recomputed later without them
        gone = list(Participant.objects.filter(pk__in=chunk).values_list("external_id", "joined_at"))
        participants += Participant.objects.filter(pk__in=chunk).delete()[0]
        note_people([external_id for external_id, _joined in gone], [joined for _id, joined in gone])
    return participants, details
