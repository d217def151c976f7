"""Usage aggregates over room sessions: KPIs with the previous period, series, heatmap, sizes, rooms."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import Count, Max, Min, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncDay, TruncHour, TruncMonth, TruncWeek
from django.utils import timezone

from ...models import Room
from ...models.expressions import room_name_of
from ...rollups.aggregates import SIZE_BUCKETS, USAGE_ADDITIVE, bounded_avg, bounded_sum, usage_aggregates
from ..filters import ReportFilters
from ..periods import Period, bucket_days
from . import rolled

TRUNC = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}
ADDITIVE = USAGE_ADDITIVE


@dataclass
class UsageDigest:
    """Everything the usage pages show about sessions, folded from one scan grouped by local hour."""

    current: dict[str, float]
    previous: dict[str, float]
    series: list[dict[str, Any]]
    grid: list[list[int]]
    sizes: list[dict[str, Any]]


def _as_date(value: dt.datetime | dt.date) -> dt.date:
    """A bucket value from Trunc* as a local date."""
    if isinstance(value, dt.datetime):
        return _local(value).date()
    return value


def _local(value: dt.datetime) -> dt.datetime:
    return timezone.localtime(value) if timezone.is_aware(value) else value


def _bucket_of(day: dt.date, bucket: str) -> dt.date:
    if bucket == "week":
        return day - dt.timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day


def usage_digest(filters: ReportFilters, sessions: QuerySet, room_id: int | None = None) -> UsageDigest:
    """KPIs for the period and the one before, series, weekday x hour grid and sizes in ONE query.

    Sessions are grouped by their local starting hour (at most 24 rows a day); every figure is a sum
    or a count, so folding the hours in Python gives the same numbers as separate queries would.
    ``room_id`` says ``sessions`` are exactly that room's (the room page): its hour cells answer.
    """
    current, previous = filters.period, filters.period.previous()
    both = Period(current.preset, previous.start, current.end)
    tz = timezone.get_current_timezone()
    rows: Any
    every = sessions if room_id is None else sessions.model._default_manager.using(sessions.db).all()
    if rolled.applies(filters, every):
        rows = rolled.usage_hours(both, room_id)
    else:
        rows = (
            filters.sessions(sessions, both)
            .annotate(hour=TruncHour("started_at", tzinfo=tz))
            .values("hour")
            .annotate(**usage_aggregates())
            .order_by()
        )
    totals = {"current": dict.fromkeys(ADDITIVE, 0.0), "previous": dict.fromkeys(ADDITIVE, 0.0)}
    by_bucket: dict[dt.date, dict[str, float]] = {}
    grid = [[0] * 24 for _ in range(7)]
    sizes = [0] * len(SIZE_BUCKETS)
    for row in rows:
        # TruncHour already gives local hours; astimezone with the tz in hand is a cheap no-op guard
        # (timezone.localtime looks the current zone up again for each of the ~24 rows a day).
        hour = row["hour"].astimezone(tz) if timezone.is_aware(row["hour"]) else row["hour"]
        which = "current" if hour.date() >= current.first_day else "previous"
        for key in ADDITIVE:
            totals[which][key] += row[key] or 0
        if which == "previous":
            continue
        bucket = by_bucket.setdefault(
            _bucket_of(hour.date(), current.bucket), {"sessions": 0, "minutes": 0.0}
        )
        bucket["sessions"] += row["sessions"]
        bucket["minutes"] += row["participant_minutes"] or 0.0
        grid[hour.isoweekday() - 1][hour.hour] += row["sessions"]
        for i in range(len(SIZE_BUCKETS)):
            sizes[i] += row[f"size_{i}"] or 0
    series = [
        {"bucket": day, **by_bucket.get(day, {"sessions": 0, "minutes": 0.0})} for day in bucket_days(current)
    ]
    return UsageDigest(
        totals["current"],
        totals["previous"],
        series,
        grid,
        [{"size": label, "sessions": n} for (_l, _h, label), n in zip(SIZE_BUCKETS, sizes, strict=True)],
    )


def _distinct_identities(qs: QuerySet) -> tuple[str, tuple[Any, ...]]:
    """``SELECT DISTINCT identity ...`` of the queryset, compiled for its database."""
    query = qs.values("identity").distinct().order_by().query
    return query.get_compiler(using=qs.db).as_sql()


def _people_per_period(filters: ReportFilters, participants: QuerySet) -> tuple[int, int]:
    """Two hashed ``SELECT DISTINCT identity``, one per period, as one statement."""
    current, previous = filters.period, filters.period.previous()
    cur_sql, cur_params = _distinct_identities(filters.participants(participants, current))
    prev_sql, prev_params = _distinct_identities(filters.participants(participants, previous))
    sql = f"SELECT (SELECT COUNT(*) FROM ({cur_sql}) cur), (SELECT COUNT(*) FROM ({prev_sql}) prev)"  # noqa: S608
    with connections[participants.db].cursor() as cursor:
        cursor.execute(sql, (*cur_params, *prev_params))
        cur, prev = cursor.fetchone()
    return int(cur or 0), int(prev or 0)


def _people_one_scan(filters: ReportFilters, participants: QuerySet) -> tuple[int, int]:
    """One scan over both periods keeping each person's first and last join (ORM only)."""
    current, previous = filters.period, filters.period.previous()
    both = Period(current.preset, previous.start, current.end)
    people = (
        filters.participants(participants, both)
        .values("identity")
        .annotate(first=Min("joined_at"), last=Max("joined_at"))
        .order_by()
    )
    # Here in this period if the last join is in it; in the one before if the first join is.
    row = people.aggregate(
        cur=Count("identity", filter=Q(last__gte=current.start)),
        prev=Count("identity", filter=Q(first__lt=current.start)),
    )
    return int(row["cur"] or 0), int(row["prev"] or 0)


QUALITY_COUNTS = ("connections", "measured", "degraded", "degraded_seconds")


def _compiled(qs: QuerySet) -> tuple[str, tuple[Any, ...]]:
    sql, params = qs.query.get_compiler(using=qs.db).as_sql()
    return sql, tuple(params)


def _fetch(alias: str, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Rows of a statement composed from compiled querysets."""
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def room_people_and_quality(filters: ReportFilters, participants: QuerySet) -> tuple[tuple[int, int], dict]:
    """``_people_one_scan`` plus the period's connection quality counts, in one statement.

    The people are grouped by person over both periods (as ``_people_one_scan``); the quality counts
    are a plain aggregate over the period's rows beside it. Both read the room's covering index
    (insights_part_room_people) only; counting quality inside the grouping instead costs four more
    aggregates per person in the hash table, about twice the time of the second index range scan.
    """
    current, previous = filters.period, filters.period.previous()
    both = Period(current.preset, previous.start, current.end)
    people = _compiled(
        filters.participants(participants, both)
        .values("identity")
        .annotate(first=Min("joined_at"), last=Max("joined_at"))
        .order_by()
    )
    # Counted on indexed columns (never null where counted), not on the id, so that the index
    # answers without reading the table; one group, as the connections are one room's.
    quality = _compiled(
        filters.participants(participants)
        .order_by()
        .values("room_id")
        .annotate(
            connections=Count("joined_at"),
            measured=Count("quality_degraded"),
            degraded=Count("joined_at", filter=Q(quality_degraded=True)),
            degraded_seconds=Sum("degraded_seconds", filter=Q(quality_degraded__isnull=False)),
        )
    )
    connection = connections[participants.db]
    name = connection.ops.quote_name
    start = connection.ops.adapt_datetimefield_value(current.start)
    counts = ", ".join(f"q.{name(key)}" for key in QUALITY_COUNTS)
    # Here in this period if the last join is in it; in the one before if the first join is.
    sql = (
        f"SELECT a.cur, a.prev, {counts} FROM (SELECT COUNT(CASE WHEN p.{name('last')} >= %s THEN 1 END)"  # noqa: S608 (compiled)
        f" AS cur, COUNT(CASE WHEN p.{name('first')} < %s THEN 1 END) AS prev FROM ({people[0]}) AS p) AS a"
        f" LEFT JOIN ({quality[0]}) AS q ON 1 = 1"
    )
    cur, prev, *values = _fetch(participants.db, sql, (start, start, *people[1], *quality[1]))[0]
    quality_counts = {key: value or 0 for key, value in zip(QUALITY_COUNTS, values, strict=True)}
    return (int(cur or 0), int(prev or 0)), quality_counts


def unique_people(filters: ReportFilters, participants: QuerySet, whole_site: bool = True) -> tuple[int, int]:
    """Distinct people who joined in the period and in the one before (1 query).

    People are the sync's ``Participant.identity`` (external id, else user id, else device id, else
    the connection). Both shapes group by it, which PostgreSQL hashes (COUNT(DISTINCT ...) sorts).
    For the whole site the ``joined_at`` index covers ``identity``, so each period is an index-only
    scan and two small hash tables are fastest; narrowed to a room (``whole_site=False`` or the room
    filter) the rows come from the table, so one scan covering both periods is cheaper.
    """
    if rolled.applies(filters, participants):
        return rolled.people_in(filters.period, filters.period.previous(), participants.db)
    if whole_site and not filters.room:
        return _people_per_period(filters, participants)
    return _people_one_scan(filters, participants)


def _kpi_values(totals: dict[str, float], people: int) -> dict[str, Any]:
    return {
        "sessions": int(totals["sessions"]),
        "ongoing": int(totals["ongoing"]),
        "participant_minutes": totals["participant_minutes"],
        "recorder_minutes": totals["recorder_minutes"],
        "streamer_minutes": totals["streamer_minutes"],
        "unique_participants": people,
        "avg_session_seconds": totals["ended_seconds"] / totals["ended"] if totals["ended"] else None,
        "avg_rating": totals["rating_weighted"] / totals["rating_weight"]
        if totals["rating_weight"]
        else None,
    }


def kpis(digest: UsageDigest, people: tuple[int, int]) -> dict[str, dict[str, Any]]:
    """KPIs with the previous period's value and the change in percent."""
    now_values = _kpi_values(digest.current, people[0])
    before_values = _kpi_values(digest.previous, people[1])
    out = {}
    for key, value in now_values.items():
        before = before_values[key]
        change = (value - before) / before * 100.0 if value is not None and before else None
        out[key] = {"value": value, "previous": before, "change": change}
    return out


def rooms_ranking(filters: ReportFilters, sessions: QuerySet) -> QuerySet:
    """Rooms by participant minutes in the period, most used first (slice it)."""
    if rolled.applies(filters, sessions, room_text=True):
        return rolled.room_ranking(filters)
    return (
        filters.sessions(sessions)
        .values("room_id")
        .annotate(
            room__room_name=room_name_of("room_id"),
            sessions=Count("id"),
            minutes=Coalesce(bounded_sum("total_participant_minutes"), Value(0.0)),
            avg_seconds=bounded_avg("duration_seconds"),
            avg_size=bounded_avg("total_unique_participants"),
            last_started=Max("started_at"),
        )
        .order_by("-minutes", "-sessions", "room__room_name")
    )


RANKING_COLUMNS = ("room_id", "sessions", "minutes", "avg_seconds", "avg_size", "last_started")


def top_rooms(filters: ReportFilters, sessions: QuerySet, count: int) -> list[dict[str, Any]]:
    """The first ``count`` rows of ``rooms_ranking``, naming only the rooms that can be among them.

    The ranking breaks ties in minutes and sessions by room name, so it looks a name up for every
    room used in the period (~4,000 index probes, a third of the statement's time at 1M connections).
    On PostgreSQL the rooms are ranked by minutes and sessions first, ``FETCH FIRST n ROWS WITH
    TIES`` keeps the ones that can still be among the top, and only those are named and ordered.
    """
    ranking = rooms_ranking(filters, sessions)
    connection = connections[sessions.db]
    if connection.vendor != "postgresql":
        return list(ranking[:count])
    unnamed = (
        rolled.room_ranking_source(filters)
        if rolled.applies(filters, sessions, room_text=True)
        else filters.sessions(sessions)
        .values("room_id")
        .annotate(
            sessions=Count("id"),
            minutes=Coalesce(bounded_sum("total_participant_minutes"), Value(0.0)),
            avg_seconds=bounded_avg("duration_seconds"),
            avg_size=bounded_avg("total_unique_participants"),
            last_started=Max("started_at"),
        )
    )
    inner, params = _compiled(unnamed.order_by("-minutes", "-sessions"))
    q = connection.ops.quote_name
    room = f"SELECT r.{q('room_name')} FROM {q(Room._meta.db_table)} r WHERE r.{q('id')} = t.{q('room_id')}"  # noqa: S608 (our identifiers)
    rows = _fetch(
        sessions.db,
        f"SELECT {', '.join(f't.{q(c)}' for c in RANKING_COLUMNS)}, ({room}) AS n"  # noqa: S608 (compiled)
        f" FROM ({inner} FETCH FIRST %s ROWS WITH TIES) AS t"
        f" ORDER BY t.{q('minutes')} DESC, t.{q('sessions')} DESC, n ASC LIMIT %s",
        (*params, count, count),
    )
    return [{**dict(zip(RANKING_COLUMNS, row[:-1], strict=True)), "room__room_name": row[-1]} for row in rows]
