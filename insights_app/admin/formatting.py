"""How the admin writes numbers, durations, sizes and times: one format, the reports' own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.utils import formats, timezone
from django.utils.translation import gettext as _

from ..names import shown_name
from ..reports.tables import format_duration

EMPTY = "—"
# Compact and sortable, like the reports' tables (Django's default is "Nov. 1, 2026, 12:05 p.m.").
DATETIME_FORMAT = "Y-m-d H:i"


def count(value: float | None) -> str:
    """A whole number with thousands separators ("2,918"); the API sends some counts as floats."""
    if value is None:
        return EMPTY
    return formats.number_format(round(float(value)), use_l10n=True, force_grouping=True)


def minutes(value: float | None) -> str:
    """A minutes figure: whole minutes with separators ("222,935")."""
    return count(value)


def duration(seconds: float | None) -> str:
    """Seconds as the reports write them: "18 min 59 s", "1 h 05 min", "42 s"."""
    return format_duration(seconds)


def data_size(value: float | None) -> str:
    """Bytes in B, kB, MB or GB (decimal units, one decimal past a kilobyte)."""
    if value is None:
        return EMPTY
    size = float(value)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(size) < 1000 or unit == "GB":
            break
        size /= 1000
    if unit == "B":
        return f"{count(size)} B"
    return f"{formats.number_format(size, 1, use_l10n=True, force_grouping=True)} {unit}"


def local_datetime(value: dt.datetime | None) -> str:
    """A stored instant in the site's time zone; an instant the zone cannot hold is shown in UTC.

    The API has sent years 0001 and 9999: moving 9999-12-31 23:59 UTC to Asia/Tokyo overflows.
    """
    if value is None:
        return EMPTY
    if timezone.is_naive(value):
        return formats.date_format(value, DATETIME_FORMAT)
    try:
        local = timezone.localtime(value)
    except (OverflowError, ValueError):
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "minutes") + " UTC"
    return formats.date_format(local, DATETIME_FORMAT)


def age(seconds: float | None) -> str:
    """How long ago, in the duration format ("4 min 10 s ago")."""
    if seconds is None:
        return EMPTY
    return _("%(duration)s ago") % {"duration": duration(max(0.0, seconds))}


# Stored figures shown on the change pages in the formats above (other fields show as Django shows them;
# every DateTimeField goes through ``local_datetime``).
FIELD_FORMATS: dict[str, Callable[[Any], str]] = {
    "duration_seconds": duration,
    "display_name": shown_name,
    "total_participant_minutes": minutes,
    "total_recorder_minutes": minutes,
    "total_streamer_minutes": minutes,
    "total_unique_participants": count,
    "total_unique_recorders": count,
    "total_unique_streamers": count,
    "total_sessions": count,
    "total_ratings": count,
    "api_requests": count,
    "api_points": count,
    "api_throttles": count,
    "api_retries": count,
    "api_bytes": data_size,
    "progress_done": count,
    "progress_total": count,
}
