"""Quality charts: a connection's samples (loss, bitrate) and degraded shares over time and by group."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext as _

from ..display.numbers import format_trimmed
from ..models.participant_detail import DEFAULT_SAMPLE_RATE_MS
from .charts import BUCKET_AXIS_TITLES, DATE_AXIS, QUALITY_COLOURS, TIME_AXIS, Chart, _layout, plotly_text
from .tables import Column, Table


def detail_rows(details: Any) -> list[dict[str, Any]]:
    """Detail items (dicts) ready for ``samples_chart``: timed ones only, a default sample rate."""
    rows = []
    for d in details:
        if d["time_stamp"] is None:
            continue
        d["sample_rate_ms"] = d["sample_rate_ms"] or DEFAULT_SAMPLE_RATE_MS
        d["samples"] = d["samples"] if isinstance(d["samples"], dict) else {}
        d["position"] = d["position"] + 1
        rows.append(d)
    return rows


def has_samples(detail: dict[str, Any]) -> bool:
    """True when the item holds at least one packet-loss value."""
    return any(detail["samples"].get(k) for k in ("packetLossSend", "packetLossRecv"))


def samples_chart(details: list[dict[str, Any]], threshold: float) -> tuple[Chart, Chart]:
    """Packet loss (%) and bitrate (kbit/s) over time, one trace per metric and detail item."""
    loss_title, rate_title = _("Packet loss"), _("Bitrate")
    loss, rate = [], []
    start = end = None
    for n, d in enumerate(details):
        x0 = d["time_stamp"].isoformat()
        step = d["sample_rate_ms"]
        length = max(
            (
                len(d["samples"].get(k) or [])
                for k in ("packetLossSend", "packetLossRecv", "bitrateSend", "bitrateRecv")
            ),
            default=0,
        )
        last = d["time_stamp"] + dt.timedelta(milliseconds=step * max(length - 1, 0))
        start = min(start, d["time_stamp"]) if start else d["time_stamp"]
        end = max(end, last) if end else last
        suffix = f" #{n + 1}" if len(details) > 1 else ""
        for key, label in (("packetLossSend", _("Loss sent")), ("packetLossRecv", _("Loss received"))):
            loss.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "marker": {"size": 3},
                    "name": f"{label}{suffix}",
                    "x0": x0,
                    "dx": step,
                    "y": d["samples"].get(key) or [],
                    "connectgaps": False,
                    "hovertemplate": "%{x}<br>%{y:.2f} %<extra>" + label + "</extra>",
                }
            )
        for key, label in (("bitrateSend", _("Bitrate sent")), ("bitrateRecv", _("Bitrate received"))):
            values = [None if v is None else round(v / 1000.0, 1) for v in d["samples"].get(key) or []]
            rate.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "marker": {"size": 3},
                    "name": f"{label}{suffix}",
                    "x0": x0,
                    "dx": step,
                    "y": values,
                    "connectgaps": False,
                    "hovertemplate": "%{x}<br>%{y:,.1f} kbit/s<extra>" + label + "</extra>",
                }
            )
    threshold_line = {
        "type": "line",
        "xref": "paper",
        "x0": 0,
        "x1": 1,
        "y0": threshold,
        "y1": threshold,
        "line": {"dash": "dash", "width": 2, "color": "#d9534f"},
    }
    loss_layout = _layout(loss_title, _("Time"), _("Packet loss (%)"), xaxis=TIME_AXIS)
    loss_layout["shapes"] = [threshold_line]
    loss_layout["annotations"] = [
        {
            "xref": "paper",
            "x": 1,
            "xanchor": "right",
            "y": threshold,
            "yanchor": "bottom",
            "showarrow": False,
            "text": _("%(t)s %% threshold") % {"t": format_trimmed(threshold)},
            "font": {"color": "#d9534f"},
        }
    ]
    rate_layout = _layout(rate_title, _("Time"), _("Bitrate (kbit/s)"), xaxis=TIME_AXIS)
    columns = [
        Column("position", _("Item")),
        Column("time_stamp", _("Samples start"), "datetime"),
        Column("sample_count", _("Samples"), "int"),
        Column("avg_packet_loss_send", _("Avg loss sent (%)"), "num"),
        Column("max_packet_loss_send", _("Max loss sent (%)"), "num"),
        Column("avg_packet_loss_recv", _("Avg loss received (%)"), "num"),
        Column("max_packet_loss_recv", _("Max loss received (%)"), "num"),
        Column("avg_bitrate_send", _("Avg bitrate sent"), "bitrate"),
        Column("avg_bitrate_recv", _("Avg bitrate received"), "bitrate"),
        Column("degraded_seconds", _("Time at or above the loss threshold"), "duration"),
    ]
    summary = Table("detail_summary", _("Samples summary"), columns, rows=details)
    return (
        Chart("loss", loss_title, {"data": loss, "layout": loss_layout}, summary),
        Chart("bitrate", rate_title, {"data": rate, "layout": rate_layout}, summary),
    )


def quality_time_chart(series: list[dict[str, Any]], bucket: str) -> Chart:
    """Share of connections and of minutes with degraded quality per bucket."""
    title = _("Degraded quality over time")
    x = [r["bucket"].isoformat() for r in series]
    figure = {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": _("Connections degraded"),
                "x": x,
                "y": [None if r["degraded_pct"] is None else round(r["degraded_pct"], 1) for r in series],
                "connectgaps": True,
                "hovertemplate": "%{x}<br>"
                + _("%(share)s %% of connections") % {"share": "%{y:.1f}"}
                + "<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": _("Minutes degraded"),
                "x": x,
                "y": [
                    None if r["degraded_minutes_pct"] is None else round(r["degraded_minutes_pct"], 1)
                    for r in series
                ],
                "connectgaps": True,
                "hovertemplate": "%{x}<br>"
                + _("%(share)s %% of minutes") % {"share": "%{y:.1f}"}
                + "<extra></extra>",
            },
        ],
        "layout": _layout(
            title,
            str(BUCKET_AXIS_TITLES.get(bucket, BUCKET_AXIS_TITLES["day"])),
            _("Share degraded (%)"),
            xaxis=DATE_AXIS,
        ),
    }
    table = Table(
        "quality_time_table",
        title,
        [
            Column("bucket", _("Period start")),
            Column("measured", _("Measured connections"), "int"),
            Column("degraded", _("Degraded connections"), "int"),
            Column("degraded_pct", _("Connections degraded (%)"), "num"),
            Column("degraded_minutes_pct", _("Minutes degraded (%)"), "num"),
        ],
        rows=series,
    )
    return Chart("quality_time", title, figure, table)


def dimension_chart(
    rows: list[dict[str, Any]], chart_id: str, title: str, axis: str, links: list[str] | None = None
) -> Chart:
    """Degraded minutes per browser / OS / room as horizontal bars, their share in the hover.

    ``links`` (one URL per row) make a bar lead to the matching rows.
    """
    ordered = list(reversed(rows))
    figure: dict[str, Any] = {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "name": _("Degraded minutes"),
                "marker": {"color": QUALITY_COLOURS["degraded"]},
                "x": [round(r["degraded_minutes"] or 0, 1) for r in ordered],
                "y": [plotly_text(r["key"]) if r["key"] else _("unknown") for r in ordered],
                "customdata": [
                    [round(r["degraded_minutes_pct"] or 0, 1), r["degraded"], r["measured"]] for r in ordered
                ],
                "hovertemplate": "%{y}<br>"
                + _("%(minutes)s degraded min (%(share)s %% of minutes)")
                % {"minutes": "%{x:,.1f}", "share": "%{customdata[0]:.1f}"}
                + "<br>"
                + _("%(degraded)s of %(measured)s connections degraded")
                % {"degraded": "%{customdata[1]}", "measured": "%{customdata[2]}"}
                + "<extra></extra>",
            }
        ],
        "layout": _layout(
            title, _("Degraded minutes (min)"), axis, yaxis={"type": "category", "rangemode": None}
        ),
    }
    if links is not None:
        figure["links"] = list(reversed(links))
    figure["layout"]["height"] = max(260, 90 + 28 * len(rows))
    table = Table(
        f"{chart_id}_table",
        title,
        [
            Column("key", axis),
            Column("measured", _("Measured connections"), "int"),
            Column("degraded", _("Degraded connections"), "int"),
            Column("degraded_minutes", _("Degraded minutes"), "minutes"),
            Column("degraded_minutes_pct", _("Minutes degraded (%)"), "num"),
        ],
        rows=rows,
    )
    return Chart(chart_id, title, figure, table)
