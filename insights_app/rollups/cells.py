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
    PeopleYearRollup,
    PersonDayRollup,
    PersonYearRollup,
    QualityDayRollup,
    RoomDayRollup,
    RoomHourRollup,
    RoomQualityDayRollup,
    RoomSession,
    UsageHourRollup,
)
from ..models.day_marks import mark_is_not_sql, marks_of, new_row_sql, set_mark_sql
from .aggregates import quality_aggregates, room_day_aggregates, usage_aggregates

ROLLUP_MODELS: tuple[type[Model], ...] = (
    UsageHourRollup,
    RoomHourRollup,
    RoomDayRollup,
    QualityDayRollup,
    RoomQualityDayRollup,
    PersonDayRollup,
)
END_OF_TIME = dt.datetime.max.replace(tzinfo=dt.UTC)
ADDITIVE_TYPES = ("IntegerField", "FloatField")
# Every table the rebuild empties.
ALL_ROLLUP_MODELS: tuple[type[Model], ...] = (*ROLLUP_MODELS, PersonYearRollup, PeopleYearRollup)
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
    hours = sessions.annotate(hour=ExtractHour("started_at", tzinfo=zone))
    return {
        UsageHourRollup: hours.values("day", "hour").annotate(**usage_aggregates()).order_by(),
        RoomHourRollup: hours.values("room_id", "day", "hour").annotate(**usage_aggregates()).order_by(),
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


def recompute_days(
    days: Iterable[dt.date], zone: dt.tzinfo, alias: str = "default", years: bool = True
) -> None:
    """Replace every cell of ``days`` by the raw rows' answer (call inside a transaction); ``years=False``
    leaves the person-year rows to ``years.rebuild_years`` (a rebuild writes each of them once)."""
    days = sorted(set(days))
    if not days:
        return
    lock_years(alias, days)
    if years:
        for day in days:
            _clear_gone_people(day, zone, alias)
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
    if years:
        for day in days:
            _mark_day_of_people(day, alias)


def _year_sql(alias: str) -> dict[str, str]:
    """The quoted names the person-year statements use."""
    quote = connections[alias].ops.quote_name
    return {
        "years": quote(PersonYearRollup._meta.db_table),
        "persons": quote(PersonDayRollup._meta.db_table),
        "ident": quote("identity"),
        "yr": quote("year"),
        "marks": quote("days"),
        "dy": quote("day"),
    }


def _clear_gone_people(day: dt.date, zone: dt.tzinfo, alias: str) -> None:
    """Set the day's mark to ``0`` for the people of the day's cells who have no connection that
    day any more (an erasure's new key, a revision); the others keep their ``1`` untouched, so a
    recompute rewrites no row of a person still there (each rewrite leaves a dead row behind)."""
    connection = connections[alias]
    n = _year_sql(alias)
    ((start, end),) = day_ranges([day], zone)
    there = (
        Participant.objects.using(alias).filter(joined_at__gte=start, joined_at__lt=end).values("identity")
    )
    there_sql, there_params = there.query.get_compiler(using=alias).as_sql()
    position = day.timetuple().tm_yday
    cleared, cleared_params = set_mark_sql(n["marks"], "0", position, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {n['years']} SET {n['marks']} = {cleared}"  # noqa: S608 (our identifiers)
            f" WHERE {n['yr']} = %s AND {n['ident']} IN"
            f" (SELECT p.{n['ident']} FROM {n['persons']} p WHERE p.{n['dy']} = %s)"
            f" AND {n['ident']} NOT IN ({there_sql})",
            [*cleared_params, day.year, connection.ops.adapt_datefield_value(day), *there_params],
        )


def _mark_day_of_people(day: dt.date, alias: str) -> None:
    """Set the day's mark to ``1`` in the year rows of the people ``PersonDayRollup`` has that day
    (through the (year, identity) index: as many rows as people that day, not the whole year), only
    where it is not ``1`` already."""
    connection = connections[alias]
    n = _year_sql(alias)
    position = day.timetuple().tm_yday
    value = connection.ops.adapt_datefield_value(day)
    people = f"SELECT p.{n['ident']} FROM {n['persons']} p WHERE p.{n['dy']} = %s"  # noqa: S608 (our identifiers)
    marked, marked_params = set_mark_sql(n["marks"], "1", position, connection)
    unmarked, unmarked_params = mark_is_not_sql(n["marks"], "1", position, connection)
    with connection.cursor() as cursor:
        # In identity order, so two writers adding people to one year never wait for each other in a cycle.
        cursor.execute(
            f"INSERT INTO {n['years']} ({n['ident']}, {n['yr']}, {n['marks']})"  # noqa: S608 (our identifiers)
            f" SELECT p.{n['ident']}, %s, {new_row_sql(connection)} FROM {n['persons']} p WHERE p.{n['dy']} = %s"
            f" ORDER BY p.{n['ident']} ON CONFLICT DO NOTHING",
            [day.year, marks_of([position]), value],
        )
        cursor.execute(
            f"UPDATE {n['years']} SET {n['marks']} = {marked}"  # noqa: S608 (our identifiers)
            f" WHERE {n['yr']} = %s AND {unmarked} AND {n['ident']} IN ({people})",
            [*marked_params, day.year, *unmarked_params, value],
        )
