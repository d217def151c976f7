"""Usage per external id (the host site's own user id)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Max, Q, QuerySet
from django.db.models.functions import Coalesce

from ...models.expressions import OPEN, real_names_only
from ..filters import ReportFilters
from .elapsed import all_seconds, finished_seconds, open_elapsed_sum

PEOPLE_SORTS = {
    # Minutes as shown: the finished connections' and the ongoing ones' up to now.
    "minutes": ("-all_seconds", "external_id"),
    "sessions": ("-sessions", "external_id"),
    "last_seen": ("-last_seen", "external_id"),
    "external_id": ("external_id",),
}


def people(
    filters: ReportFilters, participants: QuerySet, now: dt.datetime, sort: str = "minutes"
) -> QuerySet:
    """One row per external id with sessions, connections, seconds (ongoing to now) and last seen."""
    qs = filters.participants(participants)
    if filters.q:
        # Choose the people by the search, then count all their connections: a connection whose name
        # was hidden (or changed) still belongs to the person, as on the person page.
        matching = qs.filter(Q(external_id__icontains=filters.q) | Q(display_name__icontains=filters.q))
        qs = qs.filter(external_id__in=matching.values("external_id"))
    return (
        qs.exclude(Q(external_id__isnull=True) | Q(external_id=""))
        .values("external_id")
        .annotate(
            sessions=Count("room_session_id", distinct=True),
            connections=Count("id"),
            seconds=finished_seconds(),
            open_elapsed=open_elapsed_sum(now),
            all_seconds=all_seconds(),
            ongoing=Count("id", filter=OPEN),
            last_seen=Max(Coalesce("left_at", "joined_at")),
            # A name the person used in the period: read from rows the scan fetches anyway (a
            # separate look-up per page touched thousands of scattered rows: bench/RESULTS.md).
            display_name=Max("display_name", filter=real_names_only()),
        )
        .order_by(*PEOPLE_SORTS.get(sort, PEOPLE_SORTS["minutes"]))
    )
