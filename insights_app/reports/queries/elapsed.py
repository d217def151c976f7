"""Seconds of connections still open, computed in SQL up to now (ongoing rows have no duration yet)."""

from __future__ import annotations

import datetime as dt

from django.db.models import DateTimeField, DurationField, ExpressionWrapper, F, Q, Sum, Value
from django.db.models.functions import Coalesce


def open_elapsed_sum(now: dt.datetime, start_field: str = "joined_at", end_field: str = "left_at") -> Sum:
    """SUM(now - start) over rows whose end is empty; a timedelta (or None) in Python."""
    elapsed = ExpressionWrapper(
        Value(now, output_field=DateTimeField()) - F(start_field), output_field=DurationField()
    )
    return Sum(elapsed, filter=Q(**{f"{end_field}__isnull": True}))


def total_seconds(finished: float | None, ongoing: dt.timedelta | None) -> float:
    """Stored seconds plus the elapsed time of ongoing rows."""
    return (finished or 0.0) + (ongoing.total_seconds() if ongoing else 0.0)


def finished_seconds() -> Coalesce:
    """The stored duration, zero where missing."""
    return Coalesce(Sum("duration_seconds"), Value(0.0))
