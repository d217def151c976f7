"""The changelist's date drill-down without scanning the table.

Django's own drill-down runs ``MIN``/``MAX`` and ``SELECT DISTINCT date_trunc(...)`` over the filtered
rows: with a search or filter on a million rows that is several full scans per page. This one reads
the bounds of the whole table from the index (one query) and offers every year, month or day within
them; a choice may lead to an empty list, which is cheap to show.

The API has sent absurd instants (years 0001 and 9999): the bounds are read within a plausible window,
so such a row neither draws thousands of year links nor overflows the site's time zone, and a
drill-down Django could not turn into a date range is refused as a bad parameter, not a 500.
"""

from __future__ import annotations

import calendar
import datetime
from typing import Any

from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.admin.views.main import ChangeList
from django.db.models import Max, Min
from django.http import QueryDict
from django.utils import formats, timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

# Dates outside this window are not offered (a video call before 2000 or years ahead is bad data).
FIRST_PLAUSIBLE_YEAR = 2000
YEARS_AHEAD = 2


def plausible_window() -> tuple[datetime.datetime, datetime.datetime]:
    """The instants the drill-down offers: 2000-01-01 up to two years from now (UTC)."""
    now = timezone.now()
    return (
        datetime.datetime(FIRST_PLAUSIBLE_YEAR, 1, 1, tzinfo=datetime.UTC),
        datetime.datetime(now.year + YEARS_AHEAD + 1, 1, 1, tzinfo=datetime.UTC),
    )


def validate_drill_down(params: QueryDict, field: str | None) -> None:
    """Raise ``IncorrectLookupParameters`` for a year/month/day Django's changelist would crash on.

    Django turns ``?f__year=`` into a range itself but does not guard its end (year 9999 + 1) or its
    conversion to UTC (0001-01-01 in Asia/Tokyo), and a month or day without a year reaches our own
    drill-down (month 13, 31 February).
    """
    if not field:
        return
    parts = {}
    for part in ("year", "month", "day"):
        values = params.getlist(f"{field}__{part}")
        if values:
            parts[part] = _int(values)
            if parts[part] is None:
                raise IncorrectLookupParameters(f"{field}__{part} is not a number")
    if not parts:
        return
    year, month, day = parts.get("year"), parts.get("month"), parts.get("day")
    try:
        # A leap year stands in when the year is not given, so 29 February stays possible.
        first = datetime.datetime(
            2000 if year is None else year, 1 if month is None else month, 1 if day is None else day
        )
        if day is not None:
            end = first + datetime.timedelta(days=1)
        elif month is not None:
            end = (first + datetime.timedelta(days=32)).replace(day=1)
        else:
            end = first.replace(year=first.year + 1)
        if year is not None:
            for instant in (first, end):
                timezone.make_aware(instant).astimezone(datetime.UTC)
    except (ValueError, OverflowError) as exc:
        raise IncorrectLookupParameters(f"no such date: {exc}") from None


def _bounds(cl: ChangeList) -> tuple[datetime.date, datetime.date] | None:
    field = cl.date_hierarchy
    low, high = plausible_window()
    bounds = cl.model._default_manager.filter(**{f"{field}__gte": low, f"{field}__lt": high}).aggregate(
        first=Min(field), last=Max(field)
    )
    if not bounds["first"] or not bounds["last"]:
        return None
    first, last = (
        timezone.localtime(v) if timezone.is_aware(v) else v for v in (bounds["first"], bounds["last"])
    )
    return first.date() if isinstance(first, datetime.datetime) else first, (
        last.date() if isinstance(last, datetime.datetime) else last
    )


def _int(value: Any) -> int | None:
    if isinstance(value, list):  # Django 5 keeps query values as lists
        value = value[-1] if value else None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _date(year: int, month: int, day: int) -> datetime.date | None:
    """The date, or None when the three do not make one (29 February of an inferred, common year)."""
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


def date_hierarchy(cl: ChangeList) -> dict[str, Any] | None:
    """The context ``insights_app/admin/date_hierarchy.html`` reads (show, back, choices, field_name)."""
    if not cl.date_hierarchy:
        return None
    levels = _levels(cl)
    if levels is None:
        return None
    field = get_fields_from_path(cl.model, cl.date_hierarchy)[-1]
    return {**levels, "field_name": field.verbose_name}


def _levels(cl: ChangeList) -> dict[str, Any] | None:
    """The back link and the choices of the level the request's parameters drilled down to."""
    name = cl.date_hierarchy
    year_field, month_field, day_field = f"{name}__year", f"{name}__month", f"{name}__day"
    year, month, day = (_int(cl.params.get(f)) for f in (year_field, month_field, day_field))

    def link(filters: dict[str, Any]) -> str:
        return cl.get_query_string(filters, [f"{name}__"])

    bounds = _bounds(cl)
    if bounds is None:
        return None
    first, last = bounds
    if not year and first.year == last.year:
        year = first.year
        if first.month == last.month:
            month = first.month

    chosen = _date(year, month, day) if year and month and day else None
    if chosen is not None:
        return {
            "show": True,
            "back": {
                "link": link({year_field: year, month_field: month}),
                "title": capfirst(formats.date_format(chosen, "YEAR_MONTH_FORMAT")),
            },
            "choices": [{"title": capfirst(formats.date_format(chosen, "MONTH_DAY_FORMAT"))}],
        }
    if year and month and 1 <= month <= 12:
        days = [
            datetime.date(year, month, d)
            for d in range(1, calendar.monthrange(year, month)[1] + 1)
            if first <= datetime.date(year, month, d) <= last
        ]
        return {
            "show": True,
            "back": {"link": link({year_field: year}), "title": str(year)},
            "choices": [
                {
                    "link": link({year_field: year, month_field: month, day_field: d.day}),
                    "title": capfirst(formats.date_format(d, "MONTH_DAY_FORMAT")),
                }
                for d in days
            ],
        }
    if year:
        months = [
            datetime.date(year, m, 1)
            for m in range(1, 13)
            if (year, m) >= (first.year, first.month) and (year, m) <= (last.year, last.month)
        ]
        return {
            "show": True,
            "back": {"link": link({}), "title": _("All dates")},
            "choices": [
                {
                    "link": link({year_field: year, month_field: mo.month}),
                    "title": capfirst(formats.date_format(mo, "YEAR_MONTH_FORMAT")),
                }
                for mo in months
            ],
        }
    return {
        "show": True,
        "back": None,
        "choices": [
            {"link": link({year_field: str(y)}), "title": str(y)} for y in range(first.year, last.year + 1)
        ],
    }
