"""Which stored fields the admin shows in which of the app's formats (``display``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext_lazy

from ..display.durations import duration
from ..display.names import shown_name
from ..display.numbers import count, format_bytes, minutes
from ..display.roles import role_label

# Stored figures shown on the change pages in the formats above (other fields show as Django shows them;
# every DateTimeField goes through ``local_datetime``).
FIELD_FORMATS: dict[str, Callable[[Any], str]] = {
    "duration_seconds": duration,
    "display_name": shown_name,
    "role_name": role_label,
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
    "api_points_estimated": count,
    "api_points_reserved": count,
    "api_throttles": count,
    "api_retries": count,
    "api_bytes": format_bytes,
    "progress_done": count,
    "progress_total": count,
}

# Labels of formatted fields whose model label names a raw unit ("duration (s)" over "15 min 11 s").
FIELD_LABELS: dict[str, Any] = {"duration_seconds": gettext_lazy("duration")}
