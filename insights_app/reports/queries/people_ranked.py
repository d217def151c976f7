"""The People list ranked from the people-year rows, each page's figures read from the raw rows.

Ranking needs every person of the period; the figures of a page need only its fifty. The rows give the
order (minutes or external id) and the count from one row per person and year, whatever the period
holds; ``people`` then computes the shown figures of the page's people from their raw connections, so
they are the raw answer by construction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.db import connections
from django.db.models import QuerySet

from ...models import Participant, PeopleYearRollup
from ...models.day_marks import marks_before_sql
from ..filters import ReportFilters
from ..periods import Period
from .people import people
from .rolled import applies

RANKED_SORTS = ("minutes", "external_id")


def ranked_applies(filters: ReportFilters, sort: str, alias: str = "default") -> bool:
    """Whether the rows rank this list: PostgreSQL (its arrays), no search or room text, a sort they
    hold, and rollups complete and fresh over the period."""
    return (
        connections[alias].vendor == "postgresql"
        and not filters.q
        and sort in RANKED_SORTS
        and applies(filters, Participant.objects.using(alias).all(), dimensions=True)
    )


def _year_terms(period: Period, now: dt.datetime, connection: Any) -> tuple[list[str], list[Any]]:
    """A SELECT per year the period touches: external id and the period's seconds (ongoing to now)."""
    quote = connection.ops.quote_name
    table = quote(PeopleYearRollup._meta.db_table)
    marks = quote("days")
    terms, params = [], []
    for year in range(period.first_day.year, period.last_day.year + 1):
        first = max(period.first_day, dt.date(year, 1, 1)).timetuple().tm_yday
        last = min(period.last_day, dt.date(year, 12, 31)).timetuple().tm_yday
        before, before_params = marks_before_sql(marks, first - 1, connection)
        through, through_params = marks_before_sql(marks, last, connection)

        def between(column: str) -> str:
            # Arrays count from 1; an index of 0 (no marked day yet) reads NULL, a total of 0.
            return f"(COALESCE(r.{column}[r.hi], 0) - COALESCE(r.{column}[r.lo], 0))"

        terms.append(
            f"SELECT r.{quote('external_id')} AS external_id,"  # noqa: S608 (our identifiers)
            f" {between(quote('seconds'))} + {between(quote('ongoing'))} * %s - {between(quote('open_joined'))}"
            " AS all_seconds"
            f" FROM (SELECT {quote('external_id')}, {quote('seconds')}, {quote('ongoing')}, {quote('open_joined')},"
            f" {before} AS lo, {through} AS hi FROM {table} WHERE {quote('year')} = %s) r WHERE r.hi > r.lo"
        )
        params += [now.timestamp(), *before_params, *through_params, year]
    return terms, params


class RankedPeople:
    """A sliceable, countable list of the People rows (as ``people`` gives them), for the paginator and
    the CSV."""

    def __init__(
        self, filters: ReportFilters, now: dt.datetime, sort: str = "minutes", alias: str = "default"
    ) -> None:
        self.filters, self.now, self.sort, self.alias = filters, now, sort, alias
        self._count: int | None = None

    def _ranked_sql(self) -> tuple[str, list[Any]]:
        terms, params = _year_terms(self.filters.period, self.now, connections[self.alias])
        if len(terms) == 1:
            sql = terms[0]  # one row per person within a year
        else:
            union = " UNION ALL ".join(terms)
            sql = f"SELECT external_id, SUM(all_seconds) AS all_seconds FROM ({union}) y GROUP BY external_id"  # noqa: S608 (our SQL)
        return sql, params

    def count(self) -> int:
        """People in the period (a count of rows, not of connections)."""
        if self._count is None:
            sql, params = self._ranked_sql()
            with connections[self.alias].cursor() as cursor:
                cursor.execute(f"SELECT COUNT(*) FROM ({sql}) c", params)  # noqa: S608 (our SQL)
                self._count = int(cursor.fetchone()[0])
        return self._count

    def __len__(self) -> int:
        return self.count()

    def _ids(self, offset: int, limit: int | None) -> list[str]:
        sql, params = self._ranked_sql()
        order = "external_id" if self.sort == "external_id" else "all_seconds DESC, external_id"
        tail = f" LIMIT {int(limit)}" if limit is not None else ""
        with connections[self.alias].cursor() as cursor:
            cursor.execute(
                f"SELECT external_id FROM ({sql}) p ORDER BY {order}{tail} OFFSET {int(offset)}",  # noqa: S608 (our SQL)
                params,
            )
            return [external_id for (external_id,) in cursor.fetchall()]

    def _figures(self, ids: list[str]) -> list[dict[str, Any]]:
        """The raw rows' figures of ``ids``, in the order given."""
        if not ids:
            return []
        participants: QuerySet = Participant.objects.using(self.alias).filter(external_id__in=ids)
        rows = {row["external_id"]: row for row in people(self.filters, participants, self.now, self.sort)}
        return [rows[external_id] for external_id in ids if external_id in rows]

    def __getitem__(self, key: slice) -> list[dict[str, Any]]:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("RankedPeople takes a slice")
        start = key.start or 0
        limit = None if key.stop is None else max(0, key.stop - start)
        return self._figures(self._ids(start, limit))

    def iterator(self, chunk_size: int = 2000) -> Iterator[dict[str, Any]]:
        """Every row, for the CSV: one streamed raw query (every person's figures are read anyway)."""
        participants = Participant.objects.using(self.alias).all()
        return people(self.filters, participants, self.now, self.sort).iterator(chunk_size=chunk_size)


def people_listing(filters: ReportFilters, now: dt.datetime, sort: str = "minutes") -> Any:
    """The People list: ranked from the people-year rows where they apply, else the raw query."""
    if ranked_applies(filters, sort):
        return RankedPeople(filters, now, sort)
    return people(filters, Participant.objects.all(), now, sort)
