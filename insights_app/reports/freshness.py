"""How fresh the reports' data is: the last completed sync, a sync in progress, how far history goes."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.db import connections
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

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
    any_data: bool = True  # a session is stored (else the reports show their empty state)


def _sql(qs: QuerySet) -> tuple[str, tuple[Any, ...]]:
    """A queryset's SQL and parameters as its database takes them (dates already adapted)."""
    return qs.query.get_compiler(using=qs.db).as_sql()


def _instant(value: Any) -> dt.datetime | None:
    """A timestamp read by raw SQL as the ORM would give it (SQLite returns text in UTC)."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and settings.USE_TZ and timezone.is_naive(value):
        value = timezone.make_aware(value, dt.UTC)
    return value


@functools.cache
def _statement(alias: str, vendor: str) -> tuple[str, tuple[Any, ...]] | None:
    """The freshness statement, compiled once per database (its SQL and values never change); None
    where the last completed run must be found in Python."""
    completed = SyncRun.objects.using(alias).completed_sql()
    if completed is None:
        return None
    return _compose(completed)


def _forget_statements(**kwargs: Any) -> None:
    _statement.cache_clear()  # a test changed a setting (time zone use) that the compiled values follow


setting_changed.connect(_forget_statements)


def _compose(completed: tuple[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """One SELECT: the last completed run, a run in progress, a full run (or its marks), the first
    session, and whether any session is stored."""
    runs = SyncRun.objects.order_by()
    active = _sql(runs.filter(status__in=[SyncStatus.QUEUED, SyncStatus.RUNNING]).values("id")[:1])
    full = _sql(runs.filter(kind=SyncKind.FULL, status=SyncStatus.SUCCEEDED).values("id")[:1])
    marked = _sql(runs.filter(kind=SyncKind.FULL, checkpoint__has_key="complete_from").values("id")[:1])
    # Dates before 1970 (or after 2999) are API mistakes kept as given; they say nothing about history.
    first = _sql(
        RoomSession.objects.filter(
            started_at__gte=dt.datetime.combine(MIN_DAY, dt.time.min, tzinfo=dt.UTC),
            started_at__lt=dt.datetime.combine(MAX_DAY, dt.time.min, tzinfo=dt.UTC),
        )
        .order_by("started_at")
        .values("started_at")[:1]
    )
    stored = _sql(RoomSession.objects.order_by().values("id")[:1])
    # The marks are looked for only when no full run succeeded (CASE evaluates one branch).
    sql = (
        f"SELECT (SELECT c.finished_at FROM ({completed[0]}) AS c), EXISTS ({active[0]}),"  # noqa: S608 (compiled)
        f" EXISTS ({full[0]}), CASE WHEN EXISTS ({full[0]}) THEN 0 WHEN EXISTS ({marked[0]}) THEN 1 ELSE 0 END,"
        f" ({first[0]}), EXISTS ({stored[0]})"
    )
    params = (*completed[1], *active[1], *full[1], *full[1], *marked[1], *first[1], *stored[1])
    return sql, params


def freshness() -> Freshness:
    """One statement (compiled once): the last completed run, a run in progress, a full run (or its
    marks), the first session and whether there is any; a second small query only while a full sync
    is still filling history. The report pages make it their first query and skip the empty check."""
    connection = connections[SyncRun.objects.db]
    statement = _statement(connection.alias, connection.vendor)
    if statement is None:  # a database without a JSON key function here: the run is found in Python
        run = SyncRun.objects.last_completed()
        statement = _compose(("SELECT %s, %s", [None, run.finished_at if run else None]))
    with connection.cursor() as cursor:
        cursor.execute(*statement)
        synced_at, running, complete_all, any_marked, history_from, any_data = cursor.fetchone()
    complete_all, complete_from = bool(complete_all), None
    if not complete_all and any_marked:
        complete_all, complete_from = _complete_from()
    return Freshness(
        _instant(synced_at),
        bool(running),
        _instant(history_from),
        complete_all,
        complete_from,
        bool(any_data),
    )


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
