"""Seconds of connections still open, computed in SQL up to now (ongoing rows have no duration yet)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import (
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from ...models.expressions import OPEN


def open_elapsed_sum(now: dt.datetime, start_field: str = "joined_at") -> Sum:
    """SUM(now - start) over rows still open (``OPEN``); a timedelta (or None) in Python."""
    elapsed = ExpressionWrapper(
        Value(now, output_field=DateTimeField()) - F(start_field), output_field=DurationField()
    )
    return Sum(elapsed, filter=OPEN)


def total_seconds(finished: float | None, ongoing: dt.timedelta | None) -> float:
    """Stored seconds plus the elapsed time of ongoing rows."""
    return (finished or 0.0) + (ongoing.total_seconds() if ongoing else 0.0)


def finished_seconds() -> Coalesce:
    """The stored duration, zero where missing."""
    return Coalesce(Sum("duration_seconds"), Value(0.0))


class DurationSeconds(Func):
    """A duration expression's seconds as a float (an interval on PostgreSQL, microseconds on SQLite)."""

    output_field = FloatField()
    template = "EXTRACT(EPOCH FROM %(expressions)s)"

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        """SQLite keeps a duration as integer microseconds."""
        return self.as_sql(compiler, connection, template="(%(expressions)s / 1000000.0)", **extra)


def all_seconds(finished: str = "seconds", ongoing: str = "open_elapsed") -> Any:
    """``total_seconds`` in SQL, from two aggregates of the same query: to order by what a page shows."""
    return F(finished) + Coalesce(DurationSeconds(F(ongoing)), Value(0.0))
