"""How the app writes durations ("1 h 05 min", "18 min 59 s") and ages ("4 min 10 s ago")."""

from __future__ import annotations

import math
from typing import Any

from django.core.signals import setting_changed
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from .numbers import EMPTY, format_int

# Marked for translation here, translated once per language (a table shows dozens of durations).
DURATION_TEXTS = (
    gettext_lazy("%(h)s h %(m)02d min"),
    gettext_lazy("%(m)d min %(s)02d s"),
    gettext_lazy("%(s)d s"),
)
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


def _forget_durations(**kwargs: Any) -> None:
    _durations.clear()


setting_changed.connect(_forget_durations)


def duration(seconds: float | None) -> str:
    """Seconds as the reports write them: "18 min 59 s", "1 h 05 min", "42 s"."""
    return format_duration(seconds)


def age(seconds: float | None) -> str:
    """How long ago, in the duration format ("4 min 10 s ago")."""
    if seconds is None:
        return EMPTY
    return _("%(duration)s ago") % {"duration": duration(max(0.0, seconds))}
