"""The admin's packet-loss chart: the reports' Plotly figure (one chart implementation for both)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse

from ..models import ParticipantDetail
from ..reports import charts, quality_charts
from ..reports.assets import plotly_version


@dataclass
class AdminChart:
    """The reports' loss chart plus the scripts that draw it on an admin page."""

    chart: charts.Chart | None
    plotly_url: str = ""
    script_url: str = ""

    @property
    def empty(self) -> bool:
        """True when there are no samples to draw (or the reports are not mounted)."""
        return self.chart is None


def _detail_row(detail: ParticipantDetail) -> dict[str, Any]:
    return {
        "time_stamp": detail.time_stamp,
        "sample_rate_ms": detail.sample_rate_ms,
        "samples": detail.samples,
        "position": detail.position,
    }


def packet_loss_chart(details: list[ParticipantDetail], threshold_percent: float) -> AdminChart:
    """Packet loss sent and received over time with the degraded threshold, as in the reports."""
    rows = quality_charts.detail_rows(_detail_row(d) for d in details)
    if not rows or not any(quality_charts.has_samples(r) for r in rows):
        return AdminChart(None)
    try:
        plotly_url = reverse("insights_app:plotly_js", args=[plotly_version()])
    except NoReverseMatch:  # the host site did not mount the reports: plotly.js has no URL
        return AdminChart(None)
    loss, _rate = quality_charts.samples_chart(rows, float(threshold_percent))
    return AdminChart(loss, plotly_url, static("insights_app/reports/reports.js"))
