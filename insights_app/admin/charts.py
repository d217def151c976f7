"""A small inline SVG chart of one connection's packet loss (no JavaScript, no CDN)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..models import ParticipantDetail
from ..models.participant_detail import DEFAULT_SAMPLE_RATE_MS

WIDTH = 640
HEIGHT = 160
MAX_POINTS = 320  # one point per pixel pair is plenty; longer calls keep each bucket's worst value

SERIES = (
    # (label, keys the sync may use for the array, CSS class)
    ("send", ("packetLossSend", "packet_loss_send"), "insights-send"),
    ("receive", ("packetLossRecv", "packet_loss_recv"), "insights-recv"),
)


@dataclass
class Chart:
    """Polylines in SVG user units plus the figures for the axis labels."""

    lines: list[tuple[str, str, str]] = field(default_factory=list)  # (label, css class, points)
    max_percent: float = 0.0
    seconds: float = 0.0
    threshold_y: float | None = None
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def empty(self) -> bool:
        """True when there were no samples to draw."""
        return not self.lines


def _series(details: Iterable[ParticipantDetail], keys: tuple[str, ...]) -> list[tuple[float, float]]:
    """(seconds since the first sample, percent) for every sample of every detail item, in time order."""
    points: list[tuple[float, float]] = []
    start = None
    for detail in details:
        samples = detail.samples or {}
        values = next((samples[k] for k in keys if isinstance(samples.get(k), list)), [])
        step = (detail.sample_rate_ms or DEFAULT_SAMPLE_RATE_MS) / 1000
        origin = detail.time_stamp
        if start is None and origin is not None:
            start = origin
        offset = (origin - start).total_seconds() if origin is not None and start is not None else 0.0
        if points and offset <= points[-1][0]:
            offset = points[-1][0] + step
        for i, value in enumerate(values):
            if isinstance(value, int | float):
                points.append((offset + i * step, float(value)))
    return points


def _downsample(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(points) <= MAX_POINTS:
        return points
    size = len(points) / MAX_POINTS
    return [
        max(points[int(i * size) : int((i + 1) * size)] or [points[-1]], key=lambda p: p[1])
        for i in range(MAX_POINTS)
    ]


def packet_loss_chart(details: list[ParticipantDetail], threshold_percent: float) -> Chart:
    """Build the chart of packet loss sent and received, with the degraded threshold as a line."""
    chart = Chart()
    all_series = [(label, css, _downsample(_series(details, keys))) for label, keys, css in SERIES]
    all_points = [p for _label, _css, points in all_series for p in points]
    if not all_points:
        return chart
    chart.seconds = max(p[0] for p in all_points) or 1.0
    chart.max_percent = max(max(p[1] for p in all_points), threshold_percent * 2, 1.0)

    def xy(point: tuple[float, float]) -> str:
        x = point[0] / chart.seconds * WIDTH
        y = HEIGHT - point[1] / chart.max_percent * HEIGHT
        return f"{x:.1f},{y:.1f}"

    for label, css, points in all_series:
        if points:
            chart.lines.append((label, css, " ".join(xy(p) for p in points)))
    chart.threshold_y = round(HEIGHT - threshold_percent / chart.max_percent * HEIGHT, 1)
    return chart
