"""Plotly figures (plain JSON for the browser) with a table equivalent for each chart."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..display.names import middle_ellipsis
from ..display.numbers import chart_separators
from ..display.roles import role_label
from .tables import Column, Table

AXIS_LABEL_CHARS = 22


def plotly_text(value: Any) -> str:
    """API text for a Plotly label: Plotly renders a little HTML (links, styles) in labels, names and
    hover templates, and shows HTML entities as plain characters, so escaping keeps it text."""
    return html.escape(str(value), quote=False)


def short_label(text: str) -> str:
    """An axis label that a phone leaves 150 px for: long names cut in the middle."""
    return middle_ellipsis(text, AXIS_LABEL_CHARS)


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # Django's catalogue translates these
# Whole titles per bucket: "per day" and "Day starting" inflect differently in other languages.
USAGE_TITLES = {
    "day": gettext_lazy("Usage per day"),
    "week": gettext_lazy("Usage per week"),
    "month": gettext_lazy("Usage per month"),
}
BUCKET_AXIS_TITLES = {
    "day": gettext_lazy("Day"),
    "week": gettext_lazy("Week starting"),
    "month": gettext_lazy("Month starting"),
}


@dataclass
class Chart:
    """One figure and the table a screen reader (or a curious person) reads instead."""

    id: str
    title: str
    figure: dict[str, Any]
    table: Table
    summary: str = ""

    @property
    def data_id(self) -> str:
        """The id of the json_script element holding the figure."""
        return f"insights-chart-{self.id}"


# Date axes in digits, like every date of the reports: Plotly's own ticks ("Dec 6, 2026") and hovers
# would name months in English whatever the page's language (it ships no other locale).
DATE_AXIS = {"type": "date", "tickformat": "%Y-%m-%d", "hoverformat": "%Y-%m-%d"}
# Within one session: the time of day.
TIME_AXIS = {"type": "date", "tickformat": "%H:%M", "hoverformat": "%H:%M:%S"}


def _layout(title: str, x_title: str, y_title: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        # Title on the left and the legend at the bottom of the figure (in pixels, whatever its
        # height): neither meets the toolbar at the top right nor the axis titles.
        # Title measured from the figure's edge, not the plot's: long axis labels push the plot right
        # and a paper-anchored title off the right edge of a phone ("Busiest roo").
        "title": {"text": title, "x": 0, "xanchor": "left", "xref": "container", "pad": {"l": 12}},
        "xaxis": {"title": {"text": x_title}, "automargin": True},
        "yaxis": {"title": {"text": y_title}, "automargin": True, "rangemode": "tozero"},
        "margin": {"t": 50, "r": 20, "b": 40, "l": 60},
        "hovermode": "closest",
        "legend": {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0},
        "height": 360,
        "separators": chart_separators(),
    }
    for key, value in extra.items():
        layout[key] = {**layout.get(key, {}), **value} if isinstance(value, dict) else value
    return layout


def count_axis(values: list[int]) -> dict[str, Any]:
    """Whole-number ticks for an axis of counts (no "0.2 sessions")."""
    top = max(values, default=0)
    return {"tickformat": ",d", "dtick": max(1, -(-top // 5)), "rangemode": "tozero", "automargin": True}


def usage_chart(series: list[dict[str, Any]], bucket: str, chart_id: str = "usage") -> Chart:
    """Participant minutes (bars) and sessions (line, right axis) per bucket."""
    title = str(USAGE_TITLES.get(bucket, USAGE_TITLES["day"]))
    x = [row["bucket"].isoformat() for row in series]
    figure: dict[str, Any] = {
        "data": [
            {
                "type": "bar",
                "name": _("Participant minutes"),
                "x": x,
                "y": [round(row["minutes"], 1) for row in series],
                "hovertemplate": "%{x}<br>%{y:,.1f} min<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": _("Sessions"),
                "x": x,
                "y": [row["sessions"] for row in series],
                "yaxis": "y2",
                "hovertemplate": "%{x}<br>" + _("%(count)s sessions") % {"count": "%{y}"} + "<extra></extra>",
            },
        ],
        "layout": _layout(
            title,
            str(BUCKET_AXIS_TITLES.get(bucket, BUCKET_AXIS_TITLES["day"])),
            _("Participant minutes (min)"),
            yaxis2={
                "title": {"text": _("Sessions (count)")},
                "overlaying": "y",
                "side": "right",
                **count_axis([row["sessions"] for row in series]),
            },
            xaxis=DATE_AXIS,
        ),
    }
    table = Table(
        f"{chart_id}_table",
        title,
        [
            Column("bucket", _("Period start")),
            Column("sessions", _("Sessions"), "int"),
            Column("minutes", _("Participant minutes"), "minutes"),
        ],
        rows=series,
    )
    return Chart(chart_id, title, figure, table)


def rooms_chart(rooms: list[dict[str, Any]]) -> Chart:
    """Busiest rooms by participant minutes, horizontal bars, biggest on top."""
    title = _("Busiest rooms")
    ordered = list(reversed(rooms))
    names = [plotly_text(r["room__room_name"]) for r in ordered]
    figure: dict[str, Any] = {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "name": _("Participant minutes"),
                "x": [round(r["minutes"], 1) for r in ordered],
                "y": names,
                "customdata": [r["sessions"] for r in ordered],
                "hovertemplate": "%{y}<br>"
                + _("%(minutes)s min in %(sessions)s sessions")
                % {"minutes": "%{x:,.1f}", "sessions": "%{customdata}"}
                + "<extra></extra>",
            }
        ],
        "layout": _layout(
            title,
            _("Participant minutes (min)"),
            _("Room"),
            # Whole names stay the categories (and in the hover); the ticks show them shortened.
            yaxis={
                "type": "category",
                "rangemode": None,
                "tickvals": names,
                "ticktext": [plotly_text(short_label(str(r["room__room_name"]))) for r in ordered],
            },
        ),
    }
    figure["layout"]["height"] = max(300, 40 + 28 * len(rooms))
    table = Table(
        "busiest_rooms_chart",
        title,
        [
            Column("room__room_name", _("Room")),
            Column("minutes", _("Participant minutes"), "minutes"),
            Column("sessions", _("Sessions"), "int"),
        ],
        rows=rooms,
    )
    return Chart("rooms", title, figure, table)


def heatmap_chart(grid: list[list[int]]) -> Chart:
    """Session starts by weekday and hour of day (site time); an hour without sessions is a zero cell."""
    title = _("Sessions by weekday and hour")
    days = [_(d) for d in WEEKDAYS]
    figure: dict[str, Any] = {
        "data": [
            {
                "type": "heatmap",
                "z": grid,
                "x": list(range(24)),
                "y": days,
                # Zero is the palest blue, a value like any other (not a see-through gap that reads
                # as "no data", black in dark mode); thin gaps keep the cells apart in both themes.
                "colorscale": [[0, "#eef4fa"], [0.001, "#c6dbef"], [1, "#08519c"]],
                "zmin": 0,
                "xgap": 1,
                "ygap": 1,
                "colorbar": {"title": {"text": _("Sessions")}},
                "hovertemplate": "%{y} %{x}:00<br>"
                + _("%(count)s sessions") % {"count": "%{z}"}
                + "<extra></extra>",
            }
        ],
        "layout": _layout(
            title,
            _("Hour of day"),
            _("Weekday"),
            yaxis={"autorange": "reversed", "rangemode": None},
            xaxis={"dtick": 2},
        ),
    }
    rows = [{"day": days[i], **{f"h{h}": grid[i][h] for h in range(24)}} for i in range(7)]
    table = Table(
        "heatmap_table",
        title,
        [Column("day", _("Weekday")), *[Column(f"h{h}", f"{h:02d}", "int") for h in range(24)]],
        rows=rows,
    )
    return Chart("heatmap", title, figure, table)


def sizes_chart(sizes: list[dict[str, Any]]) -> Chart:
    """How many sessions had how many unique participants."""
    title = _("Session size")
    figure: dict[str, Any] = {
        "data": [
            {
                "type": "bar",
                "name": _("Sessions"),
                "x": [s["size"] for s in sizes],
                "y": [s["sessions"] for s in sizes],
                "hovertemplate": _("%(count)s participants") % {"count": "%{x}"}
                + "<br>"
                + _("%(count)s sessions") % {"count": "%{y}"}
                + "<extra></extra>",
            }
        ],
        "layout": _layout(
            title,
            _("Unique participants per session (people)"),
            _("Sessions (count)"),
            xaxis={"type": "category"},
            yaxis=count_axis([s["sessions"] for s in sizes]),
        ),
    }
    table = Table(
        "sizes_table",
        title,
        [Column("size", _("Participants")), Column("sessions", _("Sessions"), "int")],
        rows=sizes,
    )
    return Chart("sizes", title, figure, table)


# Connection quality colours, readable on the admin's light and dark backgrounds.
QUALITY_COLOURS = {"good": "#2e9e5b", "degraded": "#d9534f", "unknown": "#9a9a9a"}
TIMELINE_ROW_PX = 26
TIMELINE_AXIS_ON_TOP = 12  # rows


def timeline_chart(connections: list[dict[str, Any]]) -> Chart:
    """One bar per connection from join to leave, coloured by its quality; reconnects share a row."""
    title = _("Connections over the session")
    names = {"good": _("good"), "degraded": _("degraded"), "unknown": _("no quality data")}
    by_quality: dict[str, list[dict[str, Any]]] = {key: [] for key in QUALITY_COLOURS}
    for c in connections:
        by_quality[c.get("quality_key", "unknown")].append(c)
    data: list[dict[str, Any]] = []
    for key, items in by_quality.items():
        if not items:
            continue
        data.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": str(names[key]),
                "marker": {"color": QUALITY_COLOURS[key]},
                "base": [c["joined_at"].isoformat() for c in items],
                "x": [max(c["seconds"], 1.0) * 1000.0 for c in items],
                "y": [plotly_text(c["row"]) for c in items],
                # API text (the role) goes in as escaped data, never into the template, where
                # "%{...}" would be interpreted.
                "customdata": [
                    [
                        c["joined_local"],
                        c["left_local"],
                        c["duration_text"],
                        plotly_text(role_label(c["role"])),
                    ]
                    for c in items
                ],
                "hovertemplate": "%{y} (%{customdata[3]})<br>%{customdata[0]} → %{customdata[1]}"
                "<br>%{customdata[2]}<extra>%{fullData.name}</extra>",
            }
        )
    rows = list(dict.fromkeys(str(c["row"]) for c in connections))
    # One time axis (a second, "matching" one drew its ticks elsewhere): above the bars when the
    # list is long, so it is in sight where a reader starts, below them otherwise.
    layout = _layout(
        title,
        _("Time"),
        _("Participant"),
        xaxis={**TIME_AXIS, "side": "top" if len(rows) > TIMELINE_AXIS_ON_TOP else "bottom"},
        yaxis={
            "type": "category",
            "autorange": "reversed",
            "rangemode": None,
            "tickvals": [plotly_text(row) for row in rows],
            "ticktext": [plotly_text(short_label(row)) for row in rows],
        },
        barmode="overlay",
        height=max(260, 150 + TIMELINE_ROW_PX * len(rows)),  # margins (150 px) + one row each
        margin={"t": 80, "b": 70},
    )
    layout["legend"] = {**layout["legend"], "title": {"text": _("Quality")}}
    figure = {"data": data, "layout": layout}
    table = Table(
        "timeline_table",
        title,
        [
            Column("row", _("Participant")),
            Column("role", _("Role"), "role"),
            Column("joined_local", _("Joined")),
            Column("left_local", _("Left")),
            Column("duration_text", _("Duration")),
            Column("quality", _("Quality")),
        ],
        rows=connections,
    )
    return Chart("timeline", title, figure, table)
