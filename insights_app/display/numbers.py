"""How the app writes numbers: thousands separators of the language, sizes, bit rates, percentages."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from django.core.signals import setting_changed
from django.utils import formats
from django.utils.translation import get_language
from django.utils.translation import gettext as _

EMPTY = "—"
# Numbers up to this size are grouped by ``str.format``; bigger ones go through Django's formatter.
FAST_NUMBER_LIMIT = 1e15


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


def format_minutes(value: float | None) -> str:
    """Minutes: ``222,935`` from ten on, ``2.5`` below (a decimal only where it tells something)."""
    if value is None:
        return "—"
    return format_int(value) if abs(float(value)) >= 10 else format_num(value)


def format_pct(value: float | None) -> str:
    """``12.5 %`` / ``—``."""
    return "—" if value is None else _("%(number)s %%") % {"number": format_num(value)}


def format_trimmed(value: float, decimals: int = 2) -> str:
    """``2.5`` / ``5`` (no trailing zeros), in the active language's separators."""
    text = format_num(value, decimals)
    decimal = formats.get_format("DECIMAL_SEPARATOR", get_language(), use_l10n=True)
    return text.rstrip("0").rstrip(decimal) if decimal in text else text


def plain_number(value: float) -> str:
    """A setting's number as written (3, 2.5, 0.125), in the active language's separators."""
    return formats.number_format(Decimal(f"{float(value):g}"))


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


def count(value: float | None) -> str:
    """A whole number with thousands separators ("2,918"); the API sends some counts as floats."""
    if value is None:
        return EMPTY
    return formats.number_format(round(float(value)), use_l10n=True, force_grouping=True)


def minutes(value: float | None) -> str:
    """A minutes figure: whole minutes with separators ("222,935")."""
    return count(value)


def points_text(value: float | None) -> str:
    """A number of points with thousands separators, without a ".0" when whole; "?" when unknown."""
    if value is None:
        return "?"
    return format_int(value) if float(value).is_integer() else format_num(value, 1)
