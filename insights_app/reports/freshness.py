"""How fresh the reports' data is: the last completed sync, a sync in progress, how far history goes."""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Min, Q

from ..health import last_completed_run
from ..models import RoomSession, SyncKind, SyncRun, SyncStatus
from ..sync.horizons import ALL_HISTORY
from .periods import MAX_DAY, MIN_DAY


@dataclass(frozen=True)
class Freshness:
    """What the line at the top of every report page says."""

    synced_at: dt.datetime | None  # when the last sync that refreshed its scope finished
    running: bool  # a sync is queued or running now
    history_from: dt.datetime | None  # the first session stored
    history_complete: bool  # a full sync has succeeded, so nothing older is missing
    # Otherwise: the date from which a full sync (filling the newest history first) stored every session.
    complete_from: dt.datetime | None = None


def _last_completed() -> dt.datetime | None:
    run = last_completed_run()
    return run.finished_at if run else None


def freshness() -> Freshness:
    """Small queries on the runs (and their marks) and the first session."""
    runs = SyncRun.objects.aggregate(
        running=Count("id", filter=Q(status__in=[SyncStatus.QUEUED, SyncStatus.RUNNING])),
        full=Count("id", filter=Q(kind=SyncKind.FULL, status=SyncStatus.SUCCEEDED)),
        marked=Count("id", filter=Q(kind=SyncKind.FULL, checkpoint__has_key="complete_from")),
    )
    # Dates before 1970 (or after 2999) are API mistakes kept as given; they say nothing about history.
    first = RoomSession.objects.filter(
        started_at__gte=dt.datetime.combine(MIN_DAY, dt.time.min, tzinfo=dt.UTC),
        started_at__lt=dt.datetime.combine(MAX_DAY, dt.time.min, tzinfo=dt.UTC),
    ).aggregate(first=Min("started_at"))["first"]
    complete_all, complete_from = (bool(runs["full"]), None)
    if not complete_all and runs["marked"]:
        complete_all, complete_from = _complete_from()
    return Freshness(_last_completed(), bool(runs["running"]), first, complete_all, complete_from)


def _complete_from() -> tuple[bool, dt.datetime | None]:
    """Whether a full run, newest history first, stored the whole history, else from which date."""
    marks = (
        SyncRun.objects.filter(kind=SyncKind.FULL, checkpoint__has_key="complete_from")
        .order_by("-started_at")
        .values_list("checkpoint__complete_from", flat=True)[:5]
    )
    days = []
    for mark in marks:
        if mark == ALL_HISTORY:
            return True, None  # the first stored session says from when
        with contextlib.suppress(TypeError, ValueError):
            days.append(dt.datetime.fromisoformat(mark))
    return False, min(days, default=None)
