"""The people-year rows (``PeopleYearRollup``): written from the raw rows of the people a write touched."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from typing import Any

from django.db import connections, transaction
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum, Value
from django.db.models.functions import TruncDate

from ..models import Participant, PeopleYearRollup, PersonDayRollup, RollupState
from ..models.day_marks import mark_is_not_sql, marked_in_order, marks_of
from ..models.expressions import OPEN
from .cells import END_OF_TIME, day_ranges, local_midnight, lock_years, zone_named

BATCH = 500
_PENDING = "_insights_people_pending"  # (external ids, instants) noted on a connection, not yet rewritten
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _year_span(year: int, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    end = local_midnight(dt.date(year + 1, 1, 1), zone) if year < dt.MAXYEAR else END_OF_TIME
    return local_midnight(dt.date(year, 1, 1), zone), end


def _as_date(value: object) -> dt.date:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[return-value]


DayTotals = tuple[int, float, int, float]  # position in the year, finished s, open, open join instants


def _day_totals(
    external_ids: list[str] | None,
    year: int,
    zone: dt.tzinfo,
    alias: str = "default",
    since: dt.date | None = None,
) -> Iterator[tuple[str, list[DayTotals]]]:
    """Per external id (in order), its local days of ``year`` (from ``since`` on) with their totals;
    only ``external_ids`` unless it is None. Read with a plain cursor: no per-value converters."""
    start, end = _year_span(year, zone)
    if since is not None:
        start = max(start, local_midnight(since, zone))
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
    sql, params = days.query.get_compiler(using=alias).as_sql()
    with connections[alias].chunked_cursor() as cursor:
        cursor.execute(sql, params)
        rows = iter(lambda: cursor.fetchmany(5000), [])
        for external_id, group in itertools.groupby(itertools.chain.from_iterable(rows), key=itemgetter(0)):
            yield (
                external_id,
                [
                    (_as_date(day).timetuple().tm_yday, finished or 0.0, opened, _seconds(joined))
                    for _id, day, finished, opened, joined in group
                ],
            )


def _seconds(value: Any) -> float:
    """A duration sum as seconds: a timedelta on PostgreSQL, microseconds on SQLite, None for none."""
    if value is None:
        return 0.0
    return value.total_seconds() if isinstance(value, dt.timedelta) else value / 1_000_000


def _row(
    external_id: str, year: int, days: list[DayTotals], kept: PeopleYearRollup | None, keep: int
) -> PeopleYearRollup:
    """The row of ``days`` after the first ``keep`` days (and running totals) of ``kept``."""
    positions = marked_in_order(kept.days)[:keep] if kept is not None else []
    seconds = list(kept.seconds or [])[:keep] if kept is not None else []
    ongoing = list(kept.ongoing or [0.0] * keep)[:keep] if kept is not None else []
    open_joined = list(kept.open_joined or [0.0] * keep)[:keep] if kept is not None else []
    total = seconds[-1] if seconds else 0.0
    opened = ongoing[-1] if ongoing else 0.0
    joined = open_joined[-1] if open_joined else 0.0
    for position, finished, open_count, open_since in days:
        total, opened, joined = total + finished, opened + open_count, joined + open_since
        positions.append(position)
        seconds.append(total)
        ongoing.append(opened)
        open_joined.append(joined)
    return PeopleYearRollup(
        external_id=external_id,
        year=year,
        days=marks_of(positions),
        seconds=seconds,
        ongoing=ongoing if opened else None,
        open_joined=open_joined if opened else None,
    )


def people_rows(
    external_ids: list[str] | None, year: int, zone: dt.tzinfo, alias: str = "default"
) -> Iterator[PeopleYearRollup]:
    """The rows the raw connections of ``year`` (local days in ``zone``) give, in external-id order;
    only those of ``external_ids`` unless it is None."""
    for external_id, days in _day_totals(external_ids, year, zone, alias):
        yield _row(external_id, year, days, None, 0)


def _same(a: PeopleYearRollup, b: PeopleYearRollup) -> bool:
    return (a.days, a.seconds, a.ongoing, a.open_joined) == (b.days, b.seconds, b.ongoing, b.open_joined)


def replace_people(
    external_ids: list[str], year: int, zone: dt.tzinfo, alias: str = "default", since: dt.date | None = None
) -> None:
    """Make the year rows of ``external_ids`` what their raw rows say, writing only rows that change
    (a rewrite leaves a dead row behind on PostgreSQL). With ``since``, the days before it are known
    unchanged: their marks and running totals are kept and only the raw rows from ``since`` on read."""
    position = since.timetuple().tm_yday if since is not None and since.year == year else 1
    since = dt.date(year, 1, 1) if position == 1 else since
    for start in range(0, len(external_ids), BATCH):
        chunk = external_ids[start : start + BATCH]
        stored = {
            row.external_id: row
            for row in PeopleYearRollup.objects.using(alias).filter(year=year, external_id__in=chunk)
        }
        fresh = dict(_day_totals(chunk, year, zone, alias, None if position == 1 else since))
        wanted = {}
        for external_id in chunk:
            kept = stored.get(external_id)
            keep = kept.days.count("1", 0, position - 1) if kept is not None else 0
            if keep or external_id in fresh:
                wanted[external_id] = _row(external_id, year, fresh.get(external_id, []), kept, keep)
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
            .order_by()
            .values_list("external_id", flat=True)
            .distinct()
            if external_id
        }
        found[year] = sorted(before | now)
    return found


def refresh_people(days: Iterable[dt.date], zone: dt.tzinfo, alias: str = "default") -> None:
    """After the cells of ``days`` were recomputed (same transaction, years locked): rewrite the rows of
    everyone with a connection on those days now or marked there before (an erased id, a moved join)."""
    days = sorted(set(days))
    for year, external_ids in people_of_days(days, zone, alias).items():
        # Days before the first recomputed one keep their running totals.
        replace_people(external_ids, year, zone, alias, since=min(d for d in days if d.year == year))


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


def note_people(
    external_ids: Iterable[str | None], instants: Iterable[dt.datetime | None], alias: str = "default"
) -> None:
    """Note that connections at ``instants`` of these external ids (old and new keys) were just
    pseudonymised or deleted: ``flush_people`` rewrites their rows before the transaction commits."""
    pending = _pending_people(alias)
    pending[0].update(external_id for external_id in external_ids if external_id)
    pending[1].update(instant for instant in instants if instant is not None)


def _pending_people(alias: str) -> tuple[set[str], set[dt.datetime]]:
    connection = connections[alias]
    pending = getattr(connection, _PENDING, None)
    if pending is None:
        pending = (set(), set())
        setattr(connection, _PENDING, pending)
    return pending


def flush_people(alias: str = "default") -> None:
    """Rewrite the noted people's rows from the raw rows, in the local years of the noted connections
    only (their other years did not change), under those years' locks taken once, in order, at the end
    of the writing transaction: an erased or expired id leaves the rollups with its connections, and a
    fix that read the old rows meanwhile either committed first (its rows are rewritten here) or waits
    and reads the new ones. Left over from a rolled-back transaction, it rewrites rows that were right."""
    external_ids, instants = _pending_people(alias)
    if not external_ids:
        instants.clear()
        return
    zone = zone_named(RollupState.objects.using(alias).values_list("zone", flat=True).first() or "")
    first: dict[int, dt.date] = {}
    for instant in instants:
        day = instant.astimezone(zone).date()
        first[day.year] = min(day, first.get(day.year, day))
    ids = sorted(external_ids)
    with transaction.atomic(using=alias):
        lock_years(alias, [dt.date(year, 1, 1) for year in first])
        for year in sorted(first):
            replace_people(ids, year, zone, alias, since=first[year])
    external_ids.clear()
    instants.clear()
