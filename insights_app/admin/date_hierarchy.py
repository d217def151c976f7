"""The changelist's date drill-down without scanning the table.

Django's own drill-down runs ``MIN``/``MAX`` and ``SELECT DISTINCT date_trunc(...)`` over the filtered
rows: with a search or filter on a million rows that is several full scans per page. This one reads
the bounds of the whole table from the index (one query) and offers every year, month or day within
them; a choice may lead to an empty list, which is cheap to show.
"""

from __future__ import annotations

import calendar
import datetime
from typing import Any

from django.contrib.admin.views.main import ChangeList
from django.db.models import Max, Min
from django.utils import formats, timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _


def _bounds(cl: ChangeList) -> tuple[datetime.date, datetime.date] | None:
    field = cl.date_hierarchy
    bounds = cl.model._default_manager.aggregate(first=Min(field), last=Max(field))
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
    except (TypeError, ValueError):
        return None


def date_hierarchy(cl: ChangeList) -> dict[str, Any] | None:
    """The context ``admin/date_hierarchy.html`` expects (show, back, choices)."""
    if not cl.date_hierarchy:
        return None
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

    if year and month and day:
        chosen = datetime.date(year, month, day)
        return {
            "show": True,
            "back": {
                "link": link({year_field: year, month_field: month}),
                "title": capfirst(formats.date_format(chosen, "YEAR_MONTH_FORMAT")),
            },
            "choices": [{"title": capfirst(formats.date_format(chosen, "MONTH_DAY_FORMAT"))}],
        }
    if year and month:
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
