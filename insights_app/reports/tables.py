"""Report tables: one description drives the HTML table, its CSV download and chart text equivalents."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.signals import setting_changed
from django.utils import formats, timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

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
    # Set by the report views for the page: the download link, the paginator's page, the row count
    # as text and the sort links (see ``reports.views.base``).
    csv_url: str = ""
    page: Any = None
    page_count_text: str = ""
    sorts: list[tuple[str, Any, bool]] | None = None

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


def local(value: dt.datetime) -> dt.datetime:
    """``value`` in the site's time zone; in UTC where that would leave the years 1..9999."""
    if not timezone.is_aware(value):
        return value
    try:
        return timezone.localtime(value)
    except (OverflowError, ValueError):
        return value.astimezone(dt.UTC)


# The fixed (not locale-named) date formats the reports use, as ``str.format`` patterns: the same
# text as ``formats.date_format`` gives, for a fraction of its cost on tables of many rows.
FAST_DATE_FORMATS = {
    "Y-m-d H:i": "{0.year:04d}-{0.month:02d}-{0.day:02d} {0.hour:02d}:{0.minute:02d}",
    "Y-m-d H:i:s": "{0.year:04d}-{0.month:02d}-{0.day:02d} {0.hour:02d}:{0.minute:02d}:{0.second:02d}",
    "Y-m-d": "{0.year:04d}-{0.month:02d}-{0.day:02d}",
    "H:i:s": "{0.hour:02d}:{0.minute:02d}:{0.second:02d}",
    "H:i": "{0.hour:02d}:{0.minute:02d}",
}
# Numbers up to this size are grouped by ``str.format``; bigger ones go through Django's formatter.
FAST_NUMBER_LIMIT = 1e15


def _date_text(value: dt.datetime, fmt: str) -> str:
    pattern = FAST_DATE_FORMATS.get(fmt)
    return pattern.format(value) if pattern else formats.date_format(value, fmt)


def format_datetime(value: dt.datetime | None, fmt: str = "Y-m-d H:i") -> str:
    """A local date and time, ``—`` for none; in UTC (and saying so) where the zone would overflow."""
    if value is None:
        return "—"
    if not timezone.is_aware(value):
        return _date_text(value, fmt)
    try:
        return _date_text(timezone.localtime(value), fmt)
    except (OverflowError, ValueError):
        return _date_text(value.astimezone(dt.UTC), fmt) + " UTC"


_separators: dict[str | None, dict[int, str] | None] = {}


def _number_separators() -> dict[int, str] | None:
    """``str.translate`` table from Python's "," and "." to the language's separators, once per
    language; None where the language does not group by threes (Django's formatter does that)."""
    language = get_language()
    if language not in _separators:
        grouping = formats.get_format("NUMBER_GROUPING", language, use_l10n=True)
        thousands = formats.get_format("THOUSAND_SEPARATOR", language, use_l10n=True)
        decimal = formats.get_format("DECIMAL_SEPARATOR", language, use_l10n=True)
        _separators[language] = {ord(","): thousands, ord("."): decimal} if grouping == 3 else None
    return _separators[language]


def _forget_separators(**kwargs: Any) -> None:
    _separators.clear()
    _durations.clear()


setting_changed.connect(_forget_separators)


def _grouped(value: float, decimals: int | None) -> str:
    table = _number_separators() if abs(value) < FAST_NUMBER_LIMIT else None
    if table is None:
        return formats.number_format(value, decimals, use_l10n=True, force_grouping=True)
    return f"{value:,.{decimals or 0}f}".translate(table)


def format_int(value: float | None) -> str:
    """``2,918``; ``—`` for none."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—" if value is None else str(value)
    return _grouped(round(float(value)), None)


def format_num(value: float | None, decimals: int = 1) -> str:
    """``222,935.4``; ``—`` for none."""
    if value is None or not math.isfinite(float(value)):
        return "—" if value is None else str(value)
    return _grouped(round(float(value), decimals), decimals)


# Marked for translation here, translated once per language (a table shows dozens of durations).
DURATION_TEXTS = (_("%(h)s h %(m)02d min"), _("%(m)d min %(s)02d s"), _("%(s)d s"))
_durations: dict[str | None, tuple[str, ...]] = {}


def format_duration(seconds: float | None) -> str:
    """``1 h 05 min`` / ``18 min 59 s`` / ``4 s`` / ``—``."""
    if seconds is None or not math.isfinite(float(seconds)):
        return "—"
    language = get_language()
    texts = _durations.get(language)
    if texts is None:
        texts = _durations[language] = tuple(str(text) for text in DURATION_TEXTS)
    seconds = round(float(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return texts[0] % {"h": format_int(hours), "m": minutes}
    if minutes:
        return texts[1] % {"m": minutes, "s": secs}
    return texts[2] % {"s": secs}


def _scaled(value: float, units: tuple[str, ...]) -> str:
    step = 0
    while abs(value) >= 1000 and step < len(units) - 1:
        value /= 1000.0
        step += 1
    return f"{format_num(value, 0 if step == 0 else 1)} {units[step]}"


def format_bitrate(bits_per_second: float | None) -> str:
    """``1.6 Mbit/s`` / ``850.0 kbit/s`` / ``—``."""
    if bits_per_second is None or not math.isfinite(float(bits_per_second)):
        return "—"
    return _scaled(float(bits_per_second), ("bit/s", "kbit/s", "Mbit/s", "Gbit/s"))


def format_bytes(count: float | None) -> str:
    """``1.9 MB`` (decimal units) / ``—``."""
    if count is None or not math.isfinite(float(count)):
        return "—"
    return _scaled(float(count), ("B", "kB", "MB", "GB", "TB"))


def format_trimmed(value: float, decimals: int = 2) -> str:
    """``2.5`` / ``5`` (no trailing zeros), in the active language's separators."""
    text = format_num(value, decimals)
    decimal = formats.get_format("DECIMAL_SEPARATOR", get_language(), use_l10n=True)
    return text.rstrip("0").rstrip(decimal) if decimal in text else text


def format_signed(value: float | None, decimals: int = 1) -> str:
    """``+19.9`` / ``−3.0`` in the active language's separators; ``—`` for none."""
    if value is None or not math.isfinite(float(value)):
        return "—" if value is None else str(value)
    rounded = round(float(value), decimals)
    text = format_num(abs(rounded), decimals)
    return ("+" if rounded >= 0 else "−") + text


def chart_separators() -> str:
    """Plotly's ``layout.separators`` (decimal, then thousands) for the active language, so a chart's
    hover figures read like the tables beside it."""
    decimal = formats.get_format("DECIMAL_SEPARATOR", get_language(), use_l10n=True)
    thousands = formats.get_format("THOUSAND_SEPARATOR", get_language(), use_l10n=True)
    return f"{decimal}{thousands}"


def format_minutes(value: float | None) -> str:
    """Minutes: ``222,935`` from ten on, ``2.5`` below (a decimal only where it tells something)."""
    if value is None:
        return "—"
    return format_int(value) if abs(float(value)) >= 10 else format_num(value)


def format_pct(value: float | None) -> str:
    """``12.5 %`` / ``—``."""
    return "—" if value is None else _("%(number)s %%") % {"number": format_num(value)}


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
    return str(value)
