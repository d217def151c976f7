"""The same figures as the raw usage and quality queries, read from the rollup cells (a cell per local day).

Used only where ``rollups_usable()`` says the cells are complete, keyed in the request's zone and not
stale over the period; a report period is whole local days, so it is exactly a set of cells.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connections
from django.db.models import FloatField, Max, QuerySet, Sum, Value
from django.db.models.functions import Cast, Coalesce, NullIf

from ...models import (
    PersonYearRollup,
    QualityDayRollup,
    RoomDayRollup,
    RoomHourRollup,
    RoomQualityDayRollup,
    UsageHourRollup,
)
from ...models.day_marks import any_mark_sql
from ...models.expressions import room_name_of
from ...rollups.aggregates import QUALITY_ADDITIVE, SIZE_KEYS, USAGE_ADDITIVE
from ...rollups.marks import rollups_usable
from ..filters import ReportFilters
from ..periods import Period


def applies(
    filters: ReportFilters, rows: QuerySet, room_text: bool = False, dimensions: bool = False
) -> bool:
    """Whether the cells answer for ``rows`` (all sessions or connections, not one room's) under these
    filters: the room text only where the cells have a room, browser/OS/role only where they have those,
    and only when the cells are complete and keyed in the request's zone, and the days of the period
    and the one before (which KPIs compare with) are not stale, or few enough to be fixed first."""
    if rows.query.where or (filters.room and not room_text):
        return False
    if not dimensions and (filters.browser or filters.os or filters.role):
        return False
    period = filters.period
    return rollups_usable(rows.db, period.previous().first_day, period.last_day)


def _days(period: Period) -> dict[str, dt.date]:
    return {"day__gte": period.first_day, "day__lte": period.last_day}


def usage_hours(period: Period, room_id: int | None = None) -> list[dict[str, Any]]:
    """One row per local hour with sessions, shaped as the raw digest's grouped rows (naive local hour);
    the site's, or one room's."""
    cells: QuerySet = (
        UsageHourRollup.objects.all() if room_id is None else RoomHourRollup.objects.filter(room_id=room_id)
    )
    rows = cells.filter(**_days(period)).values("day", "hour", *USAGE_ADDITIVE, *SIZE_KEYS)
    return [
        {**row, "hour": dt.datetime.combine(row["day"], dt.time(row["hour"]))}
        for row in rows.order_by("day", "hour")
    ]


def _spans(period: Period, connection: Any) -> tuple[list[str], list[int | str], set[int]]:
    """SQL saying "a ``1`` among the period's days" (one term per year it touches), its parameters, its years."""
    spans: list[str] = []
    params: list[int | str] = []
    for year in range(period.first_day.year, period.last_day.year + 1):
        first = max(period.first_day, dt.date(year, 1, 1))
        length = (min(period.last_day, dt.date(year, 12, 31)) - first).days + 1
        test, test_params = any_mark_sql(
            connection.ops.quote_name("days"), first.timetuple().tm_yday, length, connection
        )
        spans.append(f"({connection.ops.quote_name('year')} = %s AND {test})")
        params += [year, *test_params]
    return spans, params, set(range(period.first_day.year, period.last_day.year + 1))


def people_in(period: Period, previous: Period, alias: str = "default") -> tuple[int, int]:
    """Distinct people (``Participant.identity``) with a connection in ``period`` and in ``previous``:
    the person-year rows with a ``1`` among each period's days, both counted in one scan of the rows of
    the years they touch (one row per person and year, whatever the periods hold)."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    now_terms, now_params, now_years = _spans(period, connection)
    before_terms, before_params, before_years = _spans(previous, connection)
    years = sorted(now_years | before_years)
    table = quote(PersonYearRollup._meta.db_table)
    where = f"{quote('year')} IN ({', '.join(['%s'] * len(years))})"
    in_now, in_before = " OR ".join(now_terms), " OR ".join(before_terms)
    if len(years) == 1:
        # Within one year every row is another person.
        sql = (
            f"SELECT COUNT(CASE WHEN {in_now} THEN 1 END), COUNT(CASE WHEN {in_before} THEN 1 END)"  # noqa: S608 (our identifiers)
            f" FROM {table} WHERE {where}"
        )
    else:
        sql = (
            "SELECT COUNT(CASE WHEN s.n = 1 THEN 1 END), COUNT(CASE WHEN s.b = 1 THEN 1 END) FROM"  # noqa: S608 (our identifiers)
            f" (SELECT MAX(CASE WHEN {in_now} THEN 1 ELSE 0 END) AS n,"
            f" MAX(CASE WHEN {in_before} THEN 1 ELSE 0 END) AS b"
            f" FROM {table} WHERE {where} GROUP BY {quote('identity')}) s"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*now_params, *before_params, *years])
        now_count, before_count = cursor.fetchone()
    return int(now_count or 0), int(before_count or 0)


def _ratio(total: str, count: str) -> Any:
    return Cast(Sum(total), FloatField()) / NullIf(Cast(Sum(count), FloatField()), Value(0.0))


def room_ranking_source(filters: ReportFilters) -> QuerySet:
    """Per room over the period: sessions, minutes, average length and size, last start (no names)."""
    qs = RoomDayRollup.objects.filter(**_days(filters.period))
    if filters.room:
        qs = qs.filter(room__room_name__icontains=filters.room)
    return qs.values("room_id").annotate(
        sessions=Sum("sessions"),
        minutes=Coalesce(Sum("minutes"), Value(0.0)),
        avg_seconds=_ratio("duration_sum", "duration_n"),
        avg_size=_ratio("size_sum", "size_n"),
        last_started=Max("last_started"),
    )


def room_ranking(filters: ReportFilters) -> QuerySet:
    """``usage.rooms_ranking`` from the cells."""
    return (
        room_ranking_source(filters)
        .annotate(room__room_name=room_name_of("room_id"))
        .order_by("-minutes", "-sessions", "room__room_name")
    )


def _quality_sums() -> dict[str, Any]:
    return {
        key: Coalesce(Sum(key), Value(0) if key in ("connections", "measured", "degraded") else Value(0.0))
        for key in QUALITY_ADDITIVE
    }


def quality_rows(filters: ReportFilters) -> QuerySet:
    """Quality sums per local day, browser and OS, narrowed by browser, OS and role ("-": unknown)."""
    qs = QualityDayRollup.objects.filter(**_days(filters.period))
    for name in ("browser", "os", "role"):
        value = getattr(filters, name)
        if value:
            qs = qs.filter(**{name: "" if value == "-" else value})
    return qs.values("day", "browser", "os").annotate(**_quality_sums()).order_by()


def quality_by_room(filters: ReportFilters) -> QuerySet:
    """Quality per room over the period (rows with measured connections), keyed by the room's name."""
    qs = RoomQualityDayRollup.objects.filter(**_days(filters.period))
    if filters.room:
        qs = qs.filter(room__room_name__icontains=filters.room)
    return (
        qs.values("room_id").annotate(**_quality_sums(), key=room_name_of("room_id")).filter(measured__gt=0)
    )
