"""Where each alert's cause is shown: the run, the room's quality report, the health panel."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import NoReverseMatch, reverse

from ..conf import url_parts
from ..models import Alert, AlertRule
from .settings import alert_settings


def _reverse(name: str, *args: object) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def cause_url(alert: Alert) -> str | None:
    """The page that shows why the alert is open (a path; None when that page is not mounted)."""
    details = alert.details or {}
    if alert.rule == AlertRule.FAILING_SYNCS and details.get("run_id"):
        return _reverse("admin:insights_app_syncrun_change", details["run_id"])
    if alert.rule == AlertRule.QUALITY and details.get("room_id"):
        url = _reverse("insights_app:quality")
        if url and details.get("room_name"):
            return f"{url}?{urlencode({'room': details['room_name'], 'period': '7d'})}"
        return _reverse("insights_app:room", details["room_id"])
    dashboard = _reverse("admin:insights_app_syncrun_dashboard")
    return f"{dashboard}#insights-health" if dashboard else None


def absolute(url: str | None) -> str | None:
    """The URL with ALERTS["SITE_URL"] in front, for mail and chat (None without a site URL)."""
    base = alert_settings()["SITE_URL"]
    # Only an http(s) base: "javascript:..." would turn every link into a script (E017 says so too).
    parts = url_parts(base)
    if not url or parts is None or parts.scheme not in ("http", "https"):
        return None
    return str(base).rstrip("/") + url
