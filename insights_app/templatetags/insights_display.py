"""Template filters writing values as the reports do: instants, names and roles (``display``)."""

from __future__ import annotations

from typing import Any

from django import template

from ..display.names import shown_name as _shown_name
from ..display.roles import role_label as _role_label
from ..display.times import format_datetime

register = template.Library()


@register.filter
def report_datetime(value: Any) -> str:
    """An instant as the reports write it (``YYYY-MM-DD HH:MM``, the site's zone)."""
    return format_datetime(value) if value else ""


@register.filter
def report_time(value: Any) -> str:
    """The time of day of an instant, in the site's zone (``HH:MM``)."""
    return format_datetime(value, "H:i") if value else ""


@register.filter
def shown_name(value: Any) -> str:
    """A display name, or a placeholder saying it was hidden or never given."""
    return _shown_name(value)


@register.filter
def role_label(value: Any) -> str:
    """A Whereby role in words (``granted_viewer`` -> "viewer (granted access)")."""
    return _role_label(value)
