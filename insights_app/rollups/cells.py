"""Recompute every rollup cell of some local days from the raw rows, set-based (DELETE + INSERT ... SELECT)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable
from typing import Any

from django.db import connections
from django.db.models import Count, Model, Q, QuerySet, Value
from django.db.models.functions import Coalesce, ExtractHour, TruncDate
from django.utils import timezone

from ..models import (
    Participant,
    PersonDayRollup,
    PersonYearRollup,
    QualityDayRollup,
    RoomDayRollup,
    RoomQualityDayRollup,
    RoomSession,
    UsageHourRollup,
)
from .aggregates import quality_aggregates, room_day_aggregates, usage_aggregates

ROLLUP_MODELS: tuple[type[Model], ...] = (
    UsageHourRollup,
    RoomDayRollup,
    QualityDayRollup,
    RoomQualityDayRollup,
    PersonDayRollup,
)
END_OF_TIME = dt.datetime.max.replace(tzinfo=dt.UTC)
DAYS_IN_ROW = 366
ADDITIVE_TYPES = ("IntegerField", "FloatField")
# Every table the rebuild empties.
ALL_ROLLUP_MODELS: tuple[type[Model], ...] = (*ROLLUP_MODELS, PersonYearRollup)
# Concurrent recomputes of one year wait for each other: the later one then reads the earlier's rows
# (a year, not a day: the person-year rows of one person are shared by every day of the year).
LOCK_CLASS = 0x1A5C


def local_midnight(day: dt.date, zone: dt.tzinfo) -> dt.datetime:
    """The instant a local day starts (as report periods compute it)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), zone)


def zone_named(name: str) -> dt.tzinfo:
    """The zone called ``name`` (the site's default when empty)."""
    return zoneinfo.ZoneInfo(name) if name else timezone.get_default_timezone()


def day_ranges(days: Iterable[dt.date], zone: dt.tzinfo) -> list[tuple[dt.datetime, dt.datetime]]:
    """Half-open instant ranges covering the days, consecutive days merged into one range."""
    ranges: list[tuple[dt.datetime, dt.datetime]] = []
    previous: dt.date | None = None
    for day in sorted(set(days)):
        # An absurd API date can be the last day there is: its range runs to the end of time.
        end = local_midnight(day + dt.timedelta(days=1), zone) if day < dt.date.max else END_OF_TIME
        if previous is not None and day == previous + dt.timedelta(days=1):
            ranges[-1] = (ranges[-1][0], end)
        else:
            ranges.append((local_midnight(day, zone), end))
        previous = day
    return ranges


def _within(column: str, ranges: list[tuple[dt.datetime, dt.datetime]]) -> Q:
    q = Q(pk__in=[])
    for start, end in ranges:
        q |= Q(**{f"{column}__gte": start, f"{column}__lt": end})
    return q


def cell_querysets(days: Iterable[dt.date], zone: dt.tzinfo) -> dict[type[Model], QuerySet]:
    """For each rollup model, the grouped raw query whose rows are its cells for ``days``."""
    ranges = day_ranges(days, zone)
    sessions = RoomSession.objects.filter(_within("started_at", ranges)).annotate(
        day=TruncDate("started_at", tzinfo=zone)
    )
    connections_ = Participant.objects.filter(_within("joined_at", ranges)).annotate(
        day=TruncDate("joined_at", tzinfo=zone)
    )
    return {
        UsageHourRollup: sessions.annotate(hour=ExtractHour("started_at", tzinfo=zone))
        .values("day", "hour")
        .annotate(**usage_aggregates())
        .order_by(),
        RoomDayRollup: sessions.values("room_id", "day").annotate(**room_day_aggregates()).order_by(),
        QualityDayRollup: connections_.annotate(role=Coalesce("role_name", Value("")))
        .values("day", "browser", "os", "role")
        .annotate(**quality_aggregates())
        .order_by(),
        RoomQualityDayRollup: connections_.values("room_id", "day")
        .annotate(**quality_aggregates())
        .order_by(),
        PersonDayRollup: connections_.values("day", "identity").annotate(connections=Count("id")).order_by(),
    }


def cell_columns(model: type[Model]) -> list[Any]:
    """The model's concrete columns except the primary key, as the cell queries name them."""
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def lock_years(alias: str, days: Iterable[dt.date]) -> None:
    """On PostgreSQL, hold the lock of each year of ``days`` until the transaction ends (in year order:
    no deadlock between two recomputes)."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return  # SQLite has one writer at a time
    with connection.cursor() as cursor:
        for year in sorted({day.year for day in days}):
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_CLASS, year])


def recompute_days(days: Iterable[dt.date], zone: dt.tzinfo, alias: str = "default") -> None:
    """Replace every cell of ``days`` by the raw rows' answer (call inside a transaction)."""
    days = sorted(set(days))
    if not days:
        return
    lock_years(alias, days)
    for day in days:
        _set_day_of_people(day, "0", alias)  # the people of the cells about to be replaced
    connection = connections[alias]
    quote = connection.ops.quote_name
    for model, qs in cell_querysets(days, zone).items():
        model._default_manager.using(alias).filter(day__in=days).delete()
        fields = cell_columns(model)
        select = []
        for f in fields:
            name = quote(f.attname)
            # A SUM over no matching row is NULL; the cell holds 0, as the pages fold it.
            summed = f.get_internal_type() in ADDITIVE_TYPES and f.attname != "hour"
            select.append(f"COALESCE(s.{name}, 0)" if summed else f"s.{name}")
        sql, params = qs.query.get_compiler(using=alias).as_sql()
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608 (our identifiers)
                f"SELECT {', '.join(select)} FROM ({sql}) s",
                params,
            )
    for day in days:
        _set_day_of_people(day, "1", alias)


def _set_day_of_people(day: dt.date, mark: str, alias: str) -> None:
    """Set the day's character to ``mark`` in the year rows of the people ``PersonDayRollup`` has that day
    (through the (year, identity) index: as many rows as people that day, not the whole year)."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    years, persons = quote(PersonYearRollup._meta.db_table), quote(PersonDayRollup._meta.db_table)
    ident, yr, marks, dy = quote("identity"), quote("year"), quote("days"), quote("day")
    position = day.timetuple().tm_yday
    value = connection.ops.adapt_datefield_value(day)
    with connection.cursor() as cursor:
        if mark == "1":
            # In identity order, so two writers adding people to one year never wait for each other in a cycle.
            cursor.execute(
                f"INSERT INTO {years} ({ident}, {yr}, {marks}) SELECT p.{ident}, %s, %s FROM {persons} p"  # noqa: S608 (our identifiers)
                f" WHERE p.{dy} = %s ORDER BY p.{ident} ON CONFLICT DO NOTHING",
                [day.year, "0" * DAYS_IN_ROW, value],
            )
        cursor.execute(
            f"UPDATE {years} SET {marks} = substr({marks}, 1, %s) || %s || substr({marks}, %s)"  # noqa: S608 (our identifiers)
            f" WHERE {yr} = %s AND {ident} IN (SELECT p.{ident} FROM {persons} p WHERE p.{dy} = %s)",
            [position - 1, mark, position + 1, day.year, value],
        )
