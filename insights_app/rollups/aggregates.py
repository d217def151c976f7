"""The aggregates behind usage and quality figures, shared by the raw report queries and the rollups."""

from __future__ import annotations

from typing import Any

from django.db.models import Avg, Count, F, FloatField, Max, Q, Sum, Value
from django.db.models.functions import Coalesce

# Totals above this are API mistakes (a million years of minutes); summing two near 1e308 overflows
# PostgreSQL's double precision, so the sums leave them out.
MAX_TOTAL = 1e12

SIZE_BUCKETS = (
    (1, 1, "1"),
    (2, 2, "2"),
    (3, 3, "3"),
    (4, 4, "4"),
    (5, 9, "5–9"),
    (10, 19, "10–19"),
    (20, 10**9, "20+"),
)
USAGE_ADDITIVE = (
    "sessions",
    "ongoing",
    "participant_minutes",
    "recorder_minutes",
    "streamer_minutes",
    "ended",
    "ended_seconds",
    "rating_weighted",
    "rating_weight",
)
SIZE_KEYS = tuple(f"size_{i}" for i in range(len(SIZE_BUCKETS)))
QUALITY_ADDITIVE = ("connections", "measured", "degraded", "measured_seconds", "degraded_seconds_sum")
MEASURED = Q(quality_degraded__isnull=False)


def bounded_sum(column: str, **extra: Any) -> Sum:
    """SUM of ``column`` over rows whose value is at most MAX_TOTAL (and ``extra`` filters)."""
    return Sum(column, filter=Q(**{f"{column}__lte": MAX_TOTAL}, **extra))


def bounded_avg(column: str) -> Avg:
    """AVG of ``column`` over rows whose value is at most MAX_TOTAL (as the rollups' sums and counts)."""
    return Avg(column, filter=Q(**{f"{column}__lte": MAX_TOTAL}))


def usage_aggregates() -> dict[str, Any]:
    """Counts and sums over room sessions, every one additive across hours, days and rooms."""
    weight = Coalesce("total_ratings", Value(1.0), output_field=FloatField())
    rated = Q(rating__isnull=False)
    # COUNT ... FILTER is cheaper per row than SUM(CASE ...); sessions without a size are in no bucket.
    sizes = {
        key: Count("id", filter=Q(total_unique_participants__gte=low, total_unique_participants__lte=high))
        for key, (low, high, _label) in zip(SIZE_KEYS, SIZE_BUCKETS, strict=True)
    }
    return {
        "sessions": Count("id"),
        "ongoing": Count("id", filter=Q(ended_at__isnull=True)),
        "participant_minutes": bounded_sum("total_participant_minutes"),
        "recorder_minutes": bounded_sum("total_recorder_minutes"),
        "streamer_minutes": bounded_sum("total_streamer_minutes"),
        # Ongoing sessions have no length yet; they count as sessions but not in the average.
        "ended": Count("id", filter=Q(ended_at__isnull=False, duration_seconds__isnull=False)),
        "ended_seconds": bounded_sum("duration_seconds", ended_at__isnull=False),
        "rating_weighted": Sum(F("rating") * weight, filter=rated, output_field=FloatField()),
        "rating_weight": Sum(weight, filter=rated, output_field=FloatField()),
        **sizes,
    }


def room_day_aggregates() -> dict[str, Any]:
    """What the rooms ranking needs of a room's sessions, as sums and counts (averages divide later)."""
    return {
        "sessions": Count("id"),
        "minutes": bounded_sum("total_participant_minutes"),
        "duration_sum": bounded_sum("duration_seconds"),
        "duration_n": Count("duration_seconds", filter=Q(duration_seconds__lte=MAX_TOTAL)),
        "size_sum": bounded_sum("total_unique_participants"),
        "size_n": Count("total_unique_participants", filter=Q(total_unique_participants__lte=MAX_TOTAL)),
        "last_started": Max("started_at"),
    }


def quality_aggregates() -> dict[str, Any]:
    """Measured and degraded connections and their seconds (from the per-connection summary)."""
    return {
        "connections": Count("id"),
        "measured": Count("id", filter=MEASURED),
        "degraded": Count("id", filter=Q(quality_degraded=True)),
        "measured_seconds": Coalesce(Sum("duration_seconds", filter=MEASURED), Value(0.0)),
        "degraded_seconds_sum": Coalesce(Sum("degraded_seconds", filter=MEASURED), Value(0.0)),
    }
