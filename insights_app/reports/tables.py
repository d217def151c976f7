"""Report tables: one description drives the HTML table, its CSV download and chart text equivalents."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..display.durations import format_duration
from ..display.numbers import format_bitrate, format_int, format_minutes, format_num, format_pct
from ..display.roles import role_label
from ..display.times import format_datetime

# What a CSV header says about a column's numbers (the HTML shows units in each cell instead).
CSV_UNITS = {"duration": "s", "bitrate": "bit/s", "pct": "%", "minutes": "min"}


@dataclass(frozen=True)
class Column:
    """One column: the row key, a header, and how to show the value."""

    key: str
    label: Any
    kind: str = "text"  # text, int, num, minutes, pct, datetime, duration, bitrate
    link_key: str = ""  # row key holding a URL for this cell

    @property
    def csv_label(self) -> str:
        """The header with its unit, e.g. "Length (s)", unless the label names it already."""
        label, unit = str(self.label), CSV_UNITS.get(self.kind)
        if not unit or f"({unit})" in label or (self.kind == "minutes" and "minute" in label.lower()):
            return label
        return f"{label} ({unit})"


@dataclass
class Table:
    """Rows shown on the page, plus (optionally) every row for the CSV download."""

    name: str
    title: Any
    columns: list[Column]
    rows: list[dict] = field(default_factory=list)
    all_rows: Callable[[], Iterable[dict]] | None = None
    empty_text: Any = ""
    note: Any = ""  # a line under the table, e.g. why some names have no link
    # Set by the report views for the page: the download link, the paginator's page, the row count
    # as text and the sort links (see ``reports.views.base``).
    csv_url: str = ""
    page: Any = None
    page_count_text: str = ""
    sorts: list[tuple[str, Any, bool]] | None = None

    def html_rows(self) -> list[list[tuple[str, str, str]]]:
        """Rows as ``(text, url, kind)`` cells; the template escapes the first two and styles by kind
        (dates, durations and figures never wrap)."""
        return [
            [
                (format_cell(row.get(c.key), c.kind), row.get(c.link_key, "") if c.link_key else "", c.kind)
                for c in self.columns
            ]
            for row in self.rows
        ]

    def csv_rows(self) -> Iterable[dict]:
        """Every row for the download (the page's rows when the table is not paginated)."""
        return self.all_rows() if self.all_rows else self.rows


def format_cell(value: Any, kind: str) -> str:
    """Human text for a cell."""
    if value is None or value == "":
        return "—"
    if kind == "int":
        return format_int(value)
    if kind == "num":
        return format_num(value)
    if kind == "pct":
        return format_pct(value)
    if kind == "minutes":
        return format_minutes(value)
    if kind == "datetime" and isinstance(value, dt.datetime):
        return format_datetime(value)
    if kind == "duration":
        return format_duration(value)
    if kind == "bitrate":
        return format_bitrate(value)
    if kind == "role":
        return role_label(value)
    return str(value)
