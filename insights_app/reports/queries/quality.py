"""Connection quality aggregates from the per-connection summary columns (no detail rows read)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, ExpressionWrapper, F, FloatField, Max, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone

from ...models.expressions import room_name_of
from ...rollups.aggregates import QUALITY_ADDITIVE, quality_aggregates
from ..filters import ReportFilters
from ..periods import bucket_days
from . import rolled
from .usage import TRUNC, _as_date, _bucket_of


def _quality_aggregates() -> dict[str, Any]:
    return quality_aggregates()


def with_shares(row: dict[str, Any]) -> dict[str, Any]:
    """Add ``degraded_pct`` (of measured connections) and ``degraded_minutes_pct`` (of their minutes)."""
    measured, seconds = row.get("measured") or 0, row.get("measured_seconds") or 0.0
    row["degraded_pct"] = 100.0 * row["degraded"] / measured if measured else None
    row["degraded_minutes_pct"] = 100.0 * row["degraded_seconds_sum"] / seconds if seconds else None
    row["degraded_minutes"] = row["degraded_seconds_sum"] / 60.0
    return row


ADDITIVE = QUALITY_ADDITIVE


def _empty() -> dict[str, Any]:
    return dict.fromkeys(ADDITIVE, 0)


@dataclass
class QualityDigest:
    """Totals, the series and the browser and OS breakdowns, folded from one grouped scan."""

    totals: dict[str, Any]
    series: list[dict[str, Any]]
    browsers: list[dict[str, Any]]
    systems: list[dict[str, Any]]


def _ranked(groups: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Most degraded minutes first: the bars draw degraded minutes, so they shrink down the chart."""
    rows = [with_shares({**v, "key": k}) for k, v in groups.items() if v["measured"]]
    return sorted(
        rows, key=lambda r: (-r["degraded_seconds_sum"], -(r["degraded_minutes_pct"] or 0.0), r["key"] or "")
    )


def quality_digest(filters: ReportFilters, participants: QuerySet) -> QualityDigest:
    """One query grouped by (bucket, browser, OS); every figure is a count or a sum, folded in Python."""
    trunc = TRUNC[filters.period.bucket]
    rows: Any
    if rolled.applies(filters, participants, dimensions=True):
        rows = (
            {**row, "bucket": _bucket_of(row["day"], filters.period.bucket)}
            for row in rolled.quality_rows(filters)
        )
    else:
        rows = (
            filters.connections(participants)
            .annotate(bucket=trunc("joined_at", tzinfo=timezone.get_current_timezone()))
            .values("bucket", "browser", "os")
            .annotate(**_quality_aggregates())
            .order_by()
        )
    totals = _empty()
    buckets: dict[Any, dict[str, Any]] = {}
    browsers: dict[str, dict[str, Any]] = {}
    systems: dict[str, dict[str, Any]] = {}
    for row in rows:
        for target in (
            totals,
            buckets.setdefault(_as_date(row["bucket"]), _empty()),
            browsers.setdefault(row["browser"], _empty()),
            systems.setdefault(row["os"], _empty()),
        ):
            for key in ADDITIVE:
                target[key] += row[key] or 0
    series = [
        {**with_shares(buckets.get(day, _empty())), "bucket": day} for day in bucket_days(filters.period)
    ]
    return QualityDigest(with_shares(totals), series, _ranked(browsers), _ranked(systems))


def by_dimension(filters: ReportFilters, participants: QuerySet, dimension: str) -> QuerySet:
    """Quality per room, browser or OS, the most degraded minutes first (slice it): the bars draw
    degraded minutes, so ordering by the share made them jump about."""
    qs = filters.connections(participants)
    if dimension == "room" and rolled.applies(filters, participants, room_text=True):
        qs = rolled.quality_by_room(filters)
    elif dimension == "room":
        # Group by the connection's own room id (no join through the sessions) and look the name up
        # per group: hashing the rows by id alone is much cheaper than by (id, name) after a join
        # (bench/RESULTS.md, comment figures).
        qs = qs.values("room_id").annotate(**_quality_aggregates(), key=room_name_of("room_id"))
    else:
        qs = qs.values(key=F(dimension)).annotate(**_quality_aggregates())
    share = ExpressionWrapper(
        F("degraded_seconds_sum") / NullIf(F("measured_seconds"), Value(0.0)), output_field=FloatField()
    )
    return (
        qs.filter(measured__gt=0)
        .annotate(share=Coalesce(share, Value(0.0)))
        .order_by("-degraded_seconds_sum", "-share", "key")
    )


def worst_session_page(filters: ReportFilters, participants: QuerySet, limit: int) -> list[dict[str, Any]]:
    """The ``limit`` worst sessions in 2 small queries: rank on degraded connections alone (no join),
    then the full figures for those sessions only."""
    ranked = list(
        filters.connections(participants)
        .filter(quality_degraded=True)
        .values("room_session_id")
        .annotate(seconds=Coalesce(Sum("degraded_seconds"), Value(0.0)), n=Count("id"))
        .order_by("-seconds", "-n", "-room_session_id")
        .values_list("room_session_id", flat=True)[:limit]
    )
    rows = {
        r["room_session_id"]: r
        for r in worst_sessions(filters, participants.filter(room_session_id__in=ranked))
    }
    return [rows[i] for i in ranked if i in rows]


def worst_sessions(filters: ReportFilters, participants: QuerySet) -> QuerySet:
    """Sessions with degraded connections, the most degraded minutes first (slice it)."""
    return (
        filters.connections(participants)
        .values(
            "room_session_id",
            "room_session__room_name",
            "room_session__started_at",
            "room_session__room_id",
        )
        .annotate(**_quality_aggregates(), worst_loss=Max("max_packet_loss"))
        .filter(degraded__gt=0)
        .order_by("-degraded_seconds_sum", "-degraded", "-room_session__started_at")
    )
