"""Report periods: presets and custom ranges in the site's time zone, with the period before."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

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


def _parse_day(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def period_from_params(params: dict, now: dt.datetime | None = None) -> Period:
    """Read ``period``, ``start`` and ``end`` (local days, end inclusive); bad input falls back."""
    today = timezone.localdate(now or timezone.now())
    preset = params.get("period") or DEFAULT_PRESET
    if preset == "custom":
        start, end = _parse_day(params.get("start")), _parse_day(params.get("end"))
        if start and end and start <= end and (end - start).days <= MAX_CUSTOM_DAYS:
            return Period("custom", _local_midnight(start), _local_midnight(end + dt.timedelta(days=1)))
        preset = DEFAULT_PRESET
    if preset == "this_month":
        first = today.replace(day=1)
        return Period(preset, _local_midnight(first), _local_midnight(today + dt.timedelta(days=1)))
    if preset == "last_month":
        this_first = today.replace(day=1)
        first = (this_first - dt.timedelta(days=1)).replace(day=1)
        return Period(preset, _local_midnight(first), _local_midnight(this_first))
    if preset not in ("7d", "30d", "90d"):
        preset = DEFAULT_PRESET
    days = int(preset.removesuffix("d"))
    # The last N days include today, so the range ends at tomorrow's local midnight.
    end = today + dt.timedelta(days=1)
    return Period(preset, _local_midnight(end - dt.timedelta(days=days)), _local_midnight(end))


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
