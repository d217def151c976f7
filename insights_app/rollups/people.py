"""The people-year rows (``PeopleYearRollup``): written from the raw rows of the people a write touched."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter

from django.db import connections, transaction
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum, Value
from django.db.models.functions import TruncDate

from ..models import Participant, PeopleYearRollup, PersonDayRollup, RollupState
from ..models.day_marks import mark_is_not_sql, marks_of
from ..models.expressions import OPEN
from .cells import END_OF_TIME, day_ranges, local_midnight, lock_years, zone_named

BATCH = 500
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _year_span(year: int, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    end = local_midnight(dt.date(year + 1, 1, 1), zone) if year < dt.MAXYEAR else END_OF_TIME
    return local_midnight(dt.date(year, 1, 1), zone), end


def _as_date(value: object) -> dt.date:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[return-value]


def people_rows(
    external_ids: list[str] | None, year: int, zone: dt.tzinfo, alias: str = "default"
) -> Iterator[PeopleYearRollup]:
    """The rows the raw connections of ``year`` (local days in ``zone``) give, in external-id order;
    only those of ``external_ids`` unless it is None."""
    start, end = _year_span(year, zone)
    qs = Participant.objects.using(alias).filter(joined_at__gte=start, joined_at__lt=end)
    qs = qs.exclude(Q(external_id__isnull=True) | Q(external_id=""))
    if external_ids is not None:
        qs = qs.filter(external_id__in=external_ids)
    since_epoch = ExpressionWrapper(F("joined_at") - Value(EPOCH), output_field=DurationField())
    days = (
        qs.annotate(day=TruncDate("joined_at", tzinfo=zone))
        .values("external_id", "day")
        .annotate(
            finished=Sum("duration_seconds"),
            open_count=Count("id", filter=OPEN),
            open_since=Sum(since_epoch, filter=OPEN),
        )
        .order_by("external_id", "day")
    )
    for external_id, group in itertools.groupby(
        days.iterator(chunk_size=5000), key=itemgetter("external_id")
    ):
        positions, seconds, ongoing, open_joined = [], [], [], []
        total = opened = joined = 0.0
        for row in group:
            positions.append(_as_date(row["day"]).timetuple().tm_yday)
            total += row["finished"] or 0.0
            opened += row["open_count"]
            joined += row["open_since"].total_seconds() if row["open_since"] else 0.0
            seconds.append(total)
            ongoing.append(opened)
            open_joined.append(joined)
        yield PeopleYearRollup(
            external_id=external_id,
            year=year,
            days=marks_of(positions),
            seconds=seconds,
            ongoing=ongoing if opened else None,
            open_joined=open_joined if opened else None,
        )


def _same(a: PeopleYearRollup, b: PeopleYearRollup) -> bool:
    return (a.days, a.seconds, a.ongoing, a.open_joined) == (b.days, b.seconds, b.ongoing, b.open_joined)


def replace_people(external_ids: list[str], year: int, zone: dt.tzinfo, alias: str = "default") -> None:
    """Make the year rows of ``external_ids`` what their raw rows say, writing only rows that change
    (a rewrite leaves a dead row behind on PostgreSQL)."""
    for start in range(0, len(external_ids), BATCH):
        chunk = external_ids[start : start + BATCH]
        wanted = {row.external_id: row for row in people_rows(chunk, year, zone, alias)}
        stored = {
            row.external_id: row
            for row in PeopleYearRollup.objects.using(alias).filter(year=year, external_id__in=chunk)
        }
        gone = [row.pk for key, row in stored.items() if key not in wanted]
        PeopleYearRollup.objects.using(alias).filter(pk__in=gone).delete()
        changed = []
        for key, row in wanted.items():
            if key in stored and not _same(row, stored[key]):
                row.pk = stored[key].pk
                changed.append(row)
        PeopleYearRollup.objects.using(alias).bulk_update(
            changed, ["days", "seconds", "ongoing", "open_joined"], batch_size=BATCH
        )
        PeopleYearRollup.objects.using(alias).bulk_create([r for k, r in wanted.items() if k not in stored])


def people_of_days(days: Iterable[dt.date], zone: dt.tzinfo, alias: str = "default") -> dict[int, list[str]]:
    """Per year of ``days``, the external ids with a connection on one of them or a row marked there."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    table, marks = quote(PeopleYearRollup._meta.db_table), quote("days")
    by_year: dict[int, list[dt.date]] = {}
    for day in sorted(set(days)):
        by_year.setdefault(day.year, []).append(day)
    found: dict[int, list[str]] = {}
    for year, year_days in by_year.items():
        tests, params = [], []
        for day in year_days:
            test, test_params = mark_is_not_sql(marks, "0", day.timetuple().tm_yday, connection)
            tests.append(test)
            params += test_params
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {quote('external_id')} FROM {table} WHERE {quote('year')} = %s"  # noqa: S608 (our identifiers)
                f" AND ({' OR '.join(tests)})",
                [year, *params],
            )
            before: set[str] = {external_id for (external_id,) in cursor.fetchall()}
        within = Q(pk__in=[])
        for start, end in day_ranges(year_days, zone):
            within |= Q(joined_at__gte=start, joined_at__lt=end)
        now: set[str] = {
            external_id
            for external_id in Participant.objects.using(alias)
            .filter(within)
            .exclude(Q(external_id__isnull=True) | Q(external_id=""))
            .values_list("external_id", flat=True)
            .distinct()
            if external_id
        }
        found[year] = sorted(before | now)
    return found


def refresh_people(days: Iterable[dt.date], zone: dt.tzinfo, alias: str = "default") -> None:
    """After the cells of ``days`` were recomputed (same transaction, years locked): rewrite the rows of
    everyone with a connection on those days now or marked there before (an erased id, a moved join)."""
    for year, external_ids in people_of_days(days, zone, alias).items():
        replace_people(external_ids, year, zone, alias)


def rebuild_people(
    zone: dt.tzinfo, alias: str = "default", should_stop: Callable[[], bool] = lambda: False
) -> bool:
    """Replace every year's rows from the raw rows, a year per transaction (the years the day cells
    hold: every connection has one); False when ``should_stop`` ended it between years."""
    cells = PersonDayRollup.objects.using(alias)
    for year in sorted({day.year for day in cells.dates("day", "year")}):
        if should_stop():
            return False
        with transaction.atomic(using=alias):
            lock_years(alias, [dt.date(year, 1, 1)])
            PeopleYearRollup.objects.using(alias).filter(year=year).delete()
            batch: list[PeopleYearRollup] = []
            for row in people_rows(None, year, zone, alias):
                batch.append(row)
                if len(batch) == BATCH * 4:
                    PeopleYearRollup.objects.using(alias).bulk_create(batch)
                    batch = []
            PeopleYearRollup.objects.using(alias).bulk_create(batch)
    return True


def rewrite_people_now(external_ids: Iterable[str | None], alias: str = "default") -> None:
    """Rewrite the rows of ``external_ids`` (old and new keys) from the raw rows at once, in the years
    the old keys have rows (call inside the transaction that just pseudonymised or deleted their
    connections): an erased or expired id leaves the rollups with its connections, not at a later fix."""
    ids = sorted({external_id for external_id in external_ids if external_id})
    years: set[int] = set()
    for start in range(0, len(ids), BATCH):
        rows = PeopleYearRollup.objects.using(alias).filter(external_id__in=ids[start : start + BATCH])
        years.update(rows.values_list("year", flat=True).distinct())
    if not years:
        return
    zone = zone_named(RollupState.objects.using(alias).values_list("zone", flat=True).first() or "")
    lock_years(alias, [dt.date(year, 1, 1) for year in years])
    for year in sorted(years):
        replace_people(ids, year, zone, alias)
