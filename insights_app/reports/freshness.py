"""How fresh the reports' data is: the last completed sync, a sync in progress, how far history goes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Min, Q

from ..health import last_completed_run
from ..models import RoomSession, SyncKind, SyncRun, SyncStatus
from .periods import MAX_DAY, MIN_DAY


@dataclass(frozen=True)
class Freshness:
    """What the line at the top of every report page says."""

    synced_at: dt.datetime | None  # when the last sync that refreshed its scope finished
    running: bool  # a sync is queued or running now
    history_from: dt.datetime | None  # the first session stored
    history_complete: bool  # a full sync has succeeded, so nothing older is missing


def _last_completed() -> dt.datetime | None:
    run = last_completed_run()
    return run.finished_at if run else None


def freshness() -> Freshness:
    """Three small queries on the runs and the first session."""
    runs = SyncRun.objects.aggregate(
        running=Count("id", filter=Q(status__in=[SyncStatus.QUEUED, SyncStatus.RUNNING])),
        full=Count("id", filter=Q(kind=SyncKind.FULL, status=SyncStatus.SUCCEEDED)),
    )
    # Dates before 1970 (or after 2999) are API mistakes kept as given; they say nothing about history.
    first = RoomSession.objects.filter(
        started_at__gte=dt.datetime.combine(MIN_DAY, dt.time.min, tzinfo=dt.UTC),
        started_at__lt=dt.datetime.combine(MAX_DAY, dt.time.min, tzinfo=dt.UTC),
    ).aggregate(first=Min("started_at"))["first"]
    return Freshness(_last_completed(), bool(runs["running"]), first, bool(runs["full"]))
