"""Usage aggregates over room sessions: KPIs with the previous period, series, heatmap, sizes, rooms."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Avg, Case, Count, F, FloatField, Max, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDay, TruncHour, TruncMonth, TruncWeek
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual
from django.utils import timezone

from ...models import RoomSession
from ..filters import ReportFilters
from ..periods import Period, bucket_days

TRUNC = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}


def identity_expression() -> Coalesce:
    """Who a connection belongs to: the host's external id, else Whereby's user id, else the device."""
    return Coalesce("external_id", "user_id", "device_id", "participant_id")


SIZE_BUCKETS = (
    (1, 1, "1"),
    (2, 2, "2"),
    (3, 3, "3"),
    (4, 4, "4"),
    (5, 9, "5–9"),
    (10, 19, "10–19"),
    (20, 10**9, "20+"),
)
ADDITIVE = (
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


def _hour_aggregates() -> dict[str, Any]:
    weight = Coalesce("total_ratings", Value(1.0), output_field=FloatField())
    rated = Q(rating__isnull=False)
    size = Coalesce("total_unique_participants", Value(0.0), output_field=FloatField())
    sizes = {}
    for i, (low, high, _label) in enumerate(SIZE_BUCKETS):
        sizes[f"size_{i}"] = Sum(
            Case(
                When(GreaterThanOrEqual(size, low) & LessThanOrEqual(size, high), then=Value(1)),
                default=Value(0),
            )
        )
    return {
        "sessions": Count("id"),
        "ongoing": Count("id", filter=Q(ended_at__isnull=True)),
        "participant_minutes": Sum("total_participant_minutes"),
        "recorder_minutes": Sum("total_recorder_minutes"),
        "streamer_minutes": Sum("total_streamer_minutes"),
        # Ongoing sessions have no length yet; they count as sessions but not in the average.
        "ended": Count("id", filter=Q(ended_at__isnull=False, duration_seconds__isnull=False)),
        "ended_seconds": Sum("duration_seconds", filter=Q(ended_at__isnull=False)),
        "rating_weighted": Sum(F("rating") * weight, filter=rated, output_field=FloatField()),
        "rating_weight": Sum(weight, filter=rated, output_field=FloatField()),
        **sizes,
    }


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


def usage_digest(filters: ReportFilters, sessions: QuerySet) -> UsageDigest:
    """KPIs for the period and the one before, series, weekday x hour grid and sizes in ONE query.

    Sessions are grouped by their local starting hour (at most 24 rows a day); every figure is a sum
    or a count, so folding the hours in Python gives the same numbers as separate queries would.
    """
    current, previous = filters.period, filters.period.previous()
    both = Period(current.preset, previous.start, current.end)
    tz = timezone.get_current_timezone()
    rows = (
        filters.sessions(sessions, both)
        .annotate(hour=TruncHour("started_at", tzinfo=tz))
        .values("hour")
        .annotate(**_hour_aggregates())
        .order_by()
    )
    totals = {"current": dict.fromkeys(ADDITIVE, 0.0), "previous": dict.fromkeys(ADDITIVE, 0.0)}
    by_bucket: dict[dt.date, dict[str, float]] = {}
    grid = [[0] * 24 for _ in range(7)]
    sizes = [0] * len(SIZE_BUCKETS)
    for row in rows:
        hour = _local(row["hour"])
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


def unique_people(filters: ReportFilters, participants: QuerySet) -> tuple[int, int]:
    """Distinct people who joined in the period and in the one before (1 query).

    Grouping by identity and summing flags lets PostgreSQL hash the identities instead of sorting
    them as COUNT(DISTINCT ...) would.
    """
    current, previous = filters.period, filters.period.previous()
    both = Period(current.preset, previous.start, current.end)
    flags = (
        filters.participants(participants, both)
        .values(who=identity_expression())
        .annotate(
            cur=Max(Case(When(joined_at__gte=current.start, then=Value(1)), default=Value(0))),
            prev=Max(Case(When(joined_at__lt=current.start, then=Value(1)), default=Value(0))),
        )
        .order_by()
    )
    row = flags.aggregate(cur_total=Sum("cur"), prev_total=Sum("prev"))
    return int(row["cur_total"] or 0), int(row["prev_total"] or 0)


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
    return (
        filters.sessions(sessions)
        .values("room_id", "room__room_name")
        .annotate(
            sessions=Count("id"),
            minutes=Coalesce(Sum("total_participant_minutes"), Value(0.0)),
            avg_seconds=Avg("duration_seconds"),
            avg_size=Avg("total_unique_participants"),
            last_started=Max("started_at"),
        )
        .order_by("-minutes", "-sessions", "room__room_name")
    )


def has_any_data() -> bool:
    """False before the first sync stored a session (one query)."""
    return RoomSession.objects.exists()
