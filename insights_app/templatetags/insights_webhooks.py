"""``{% webhook_presence %}`` and ``{% webhook_dashboard %}``: self-contained blocks other pages include."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from ..conf import get_settings
from ..display.durations import format_duration
from ..sync import lag
from ..webhooks import presence, rejections
from ..webhooks.intake import configured_secret

register = template.Library()


def _presence_url(room_name: str | None) -> str:
    try:
        url = reverse("insights_app:webhook_presence")
    except NoReverseMatch:
        return ""
    if room_name is None:
        return url

    return f"{url}?{urlencode({'room': room_name})}"


@register.inclusion_tag("insights_app/webhooks/presence.html")
def webhook_presence(room_name: str | None = None) -> dict[str, Any]:
    """Who is in the rooms now (one room when ``room_name`` is given), refreshed by ``presence.js``."""
    return {
        "enabled": configured_secret() is not None,
        "rooms": presence.in_rooms_now(room_name),
        "room_name": room_name,
        "presence_url": _presence_url(room_name),
        # A report page stays quiet on sites without webhooks; the dashboard says how to turn them on.
        "show_disabled_note": room_name is None,
    }


@register.inclusion_tag("insights_app/webhooks/dashboard.html", takes_context=True)
def webhook_dashboard(context: dict[str, Any]) -> dict[str, Any]:
    """The sync dashboard's webhook block: presence now and how many deliveries were refused."""
    request = context.get("request")
    may_list = request is not None and request.user.has_perm("insights_app.view_webhookevent")
    return {
        **webhook_presence(None),
        "rejected_7d": rejections.rejected_since(7),
        **_lag_lines(),
        "events_url": _admin_url("admin:insights_app_webhookevent_changelist") if may_list else "",
    }


def _lag_lines() -> dict[str, Any]:
    """The data lag observed (median, p90, sessions) and whether the two lag settings follow it."""
    seen = lag.figures()
    return {
        "lag_sessions": seen.sessions,
        "lag_median": format_duration(seen.median.total_seconds()) if seen.median is not None else "",
        "lag_p90": format_duration(seen.p90.total_seconds()) if seen.p90 is not None else "",
        "lag_learned": format_duration(seen.learned.total_seconds()) if seen.learned is not None else "",
        # A setting's name is code, not words: shown as code, in every language.
        "lag_settings": [
            (format_html("<code>{}</code>", name), getattr(get_settings(), name)) for name in lag.SETTINGS
        ],
    }


def _admin_url(name: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return ""
