"""Report periods: presets and custom ranges in the site's time zone, with the period before."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..display.numbers import format_int

PRESETS = {
    "7d": _("Last 7 days"),
    "30d": _("Last 30 days"),
    "90d": _("Last 90 days"),
    "this_month": _("This month"),
    "last_month": _("Last month"),
    "custom": _("Custom"),
}
DEFAULT_PRESET = "30d"
MAX_CUSTOM_DAYS = 3660
# Custom days outside these bounds are typing mistakes; they also keep every local midnight (and
# the period before) far from the years 1 and 9999, where converting time zones overflows.
MIN_DAY = dt.date(1970, 1, 1)
MAX_DAY = dt.date(2999, 12, 31)


class PeriodError(ValueError):
    """Period parameters that do not describe a usable range; the message names the problem."""


@dataclass(frozen=True)
class Period:
    """A half-open range ``[start, end)`` of aware datetimes, chosen by ``preset``."""

    preset: str
    start: dt.datetime
    end: dt.datetime

    @property
    def days(self) -> int:
        """Whole local days covered."""
        return (self.end.date() - self.start.date()).days

    @property
    def first_day(self) -> dt.date:
        """The first local day in the period."""
        return self.start.date()

    @property
    def last_day(self) -> dt.date:
        """The last local day in the period (inclusive)."""
        return (self.end - dt.timedelta(microseconds=1)).date()

    def previous(self) -> Period:
        """The period of the same length that ends where this one starts."""
        if self.preset in ("this_month", "last_month"):
            first = (self.start.date().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
            return Period(self.preset, _local_midnight(first), self.start)
        length = self.end.date() - self.start.date()
        return Period(self.preset, _local_midnight(self.start.date() - length), self.start)

    @property
    def bucket(self) -> str:
        """Chart bucket that keeps a few dozen points: day, week or month."""
        if self.days <= 62:
            return "day"
        if self.days <= 370:
            return "week"
        return "month"


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_current_timezone())


# Whole sentences per field: "start date" and "end date" inflect differently in other languages.
NOT_A_DAY = {
    "start": _("“%(value)s” is not a valid start date: use YYYY-MM-DD."),
    "end": _("“%(value)s” is not a valid end date: use YYYY-MM-DD."),
}
DAY_OUT_OF_RANGE = {
    "start": _("The start date must be between %(min)s and %(max)s."),
    "end": _("The end date must be between %(min)s and %(max)s."),
}


def _parse_day(value: str, which: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise PeriodError(NOT_A_DAY[which] % {"value": value}) from None
    if not MIN_DAY <= day <= MAX_DAY:
        raise PeriodError(DAY_OUT_OF_RANGE[which] % {"min": MIN_DAY.isoformat(), "max": MAX_DAY.isoformat()})
    return day


def custom_period(start_text: str, end_text: str) -> Period:
    """``start`` to ``end`` (local days, both inclusive); raises PeriodError naming what is wrong."""
    if not start_text or not end_text:
        raise PeriodError(_("A custom period needs both a start and an end date."))
    start, end = _parse_day(start_text, "start"), _parse_day(end_text, "end")
    if start > end:
        raise PeriodError(
            _("The start date %(start)s is after the end date %(end)s.")
            % {"start": start.isoformat(), "end": end.isoformat()}
        )
    if (end - start).days + 1 > MAX_CUSTOM_DAYS:
        raise PeriodError(
            _("A custom period may cover at most %(max)s days; this one covers %(days)s.")
            % {"max": format_int(MAX_CUSTOM_DAYS), "days": format_int((end - start).days + 1)}
        )
    return Period("custom", _local_midnight(start), _local_midnight(end + dt.timedelta(days=1)))


def period_from_params(params: dict, now: dt.datetime | None = None) -> Period:
    """Read ``period``, ``start`` and ``end`` (local days, end inclusive); raises PeriodError.

    ``start``/``end`` without ``period`` mean a custom range; with a preset they are ignored (the
    preset keeps rolling with today).
    """
    today = timezone.localdate(now or timezone.now())
    preset = (params.get("period") or "").strip()
    start_text, end_text = (params.get("start") or "").strip(), (params.get("end") or "").strip()
    if not preset:
        preset = "custom" if start_text or end_text else DEFAULT_PRESET
    if preset not in PRESETS:
        raise PeriodError(_("Unknown period “%(value)s”.") % {"value": preset})
    if preset == "custom":
        return custom_period(start_text, end_text)
    if preset == "this_month":
        first = today.replace(day=1)
        return Period(preset, _local_midnight(first), _local_midnight(today + dt.timedelta(days=1)))
    if preset == "last_month":
        this_first = today.replace(day=1)
        first = (this_first - dt.timedelta(days=1)).replace(day=1)
        return Period(preset, _local_midnight(first), _local_midnight(this_first))
    days = int(preset.removesuffix("d"))
    # The last N days include today, so the range ends at tomorrow's local midnight.
    end = today + dt.timedelta(days=1)
    return Period(preset, _local_midnight(end - dt.timedelta(days=days)), _local_midnight(end))


def default_period(now: dt.datetime | None = None) -> Period:
    """The default preset's period."""
    return period_from_params({"period": DEFAULT_PRESET}, now)


def period_query_including(instant: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """``?period=…`` of the shortest period ending today that holds ``instant`` ("": the default).

    For links from one session or connection to its person: the person page then counts that
    session, however old it is (a custom range for anything before the last 90 days).
    """
    if instant is None:
        return ""
    now = now or timezone.now()
    for preset in (DEFAULT_PRESET, "90d"):
        if period_from_params({"period": preset}, now).start <= instant:
            return "" if preset == DEFAULT_PRESET else f"?{urlencode({'period': preset})}"
    today = timezone.localdate(now)
    first = max(timezone.localdate(instant), today - dt.timedelta(days=MAX_CUSTOM_DAYS - 1), MIN_DAY)
    return "?" + urlencode({"period": "custom", "start": first.isoformat(), "end": today.isoformat()})


def bucket_days(period: Period) -> list[dt.date]:
    """Every bucket start in the period, so days without sessions show as zero."""
    first = period.first_day
    if period.bucket == "week":
        first -= dt.timedelta(days=first.weekday())
    elif period.bucket == "month":
        first = first.replace(day=1)
    out = []
    day = first
    while day <= period.last_day:
        out.append(day)
        if period.bucket == "day":
            day += dt.timedelta(days=1)
        elif period.bucket == "week":
            day += dt.timedelta(days=7)
        else:
            day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return out
