"""Report tables: one description drives the HTML table, its CSV download and chart text equivalents."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils import formats, timezone


@dataclass(frozen=True)
class Column:
    """One column: the row key, a header, and how to show the value."""

    key: str
    label: Any
    kind: str = "text"  # text, int, num, pct, datetime, duration
    link_key: str = ""  # row key holding a URL for this cell


@dataclass
class Table:
    """Rows shown on the page, plus (optionally) every row for the CSV download."""

    name: str
    title: Any
    columns: list[Column]
    rows: list[dict] = field(default_factory=list)
    all_rows: Callable[[], Iterable[dict]] | None = None
    empty_text: Any = ""

    def html_rows(self) -> list[list[tuple[str, str]]]:
        """Rows as ``(text, url)`` cells; the template escapes both."""
        return [
            [
                (format_cell(row.get(c.key), c.kind), row.get(c.link_key, "") if c.link_key else "")
                for c in self.columns
            ]
            for row in self.rows
        ]

    def csv_rows(self) -> Iterable[dict]:
        """Every row for the download (the page's rows when the table is not paginated)."""
        return self.all_rows() if self.all_rows else self.rows


def format_duration(seconds: float | None) -> str:
    """``1 h 05 min`` / ``4 min 10 s`` / ``—``."""
    if seconds is None:
        return "—"
    seconds = round(float(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def format_cell(value: Any, kind: str) -> str:
    """Human text for a cell."""
    if value is None or value == "":
        return "—"
    if kind == "int":
        return formats.number_format(round(float(value)), use_l10n=True, force_grouping=True)
    if kind == "num":
        return formats.number_format(round(float(value), 1), 1, use_l10n=True, force_grouping=True)
    if kind == "pct":
        return f"{float(value):.1f} %"
    if kind == "datetime" and isinstance(value, dt.datetime):
        return formats.date_format(timezone.localtime(value), "Y-m-d H:i")
    if kind == "duration":
        return format_duration(value)
    return str(value)
