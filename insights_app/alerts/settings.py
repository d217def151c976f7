"""``WHEREBY_INSIGHTS["ALERTS"]``: one dict merged over these defaults, read through the app's settings."""

from __future__ import annotations

from typing import Any

from ..conf import get_settings

ALERT_DEFAULTS: dict[str, Any] = {
    # Rules switched off by name, e.g. ["quality"].
    "DISABLED_RULES": [],
    # How often the schedule evaluates the rules, and on which RQ queue (None: the app's QUEUE).
    "CHECK_INTERVAL_SECONDS": 60,
    "QUEUE": None,
    # stale data: no succeeded or partial organisation sync for this long (None: 3 schedule intervals).
    "STALE_AFTER_MINUTES": None,
    # failing syncs: this many organisation runs failed in a row (a 401/403 alerts at once).
    "FAILED_RUNS_IN_A_ROW": 3,
    # budget pressure: this many 429s within the window, or the organisation's points under the floor.
    "BUDGET_WINDOW_MINUTES": 60,
    "BUDGET_MAX_THROTTLES": 1,
    "BUDGET_LOW_REMAINING": True,
    # quality: a room whose share of degraded connections over the window exceeds the percentage.
    "QUALITY_DEGRADED_PERCENT": 40.0,
    "QUALITY_MIN_CONNECTIONS": 20,
    "QUALITY_WINDOW_HOURS": 24,
    # worker gone: jobs waiting on our queue and no worker listening for this long.
    "WORKER_GONE_MINUTES": 10,
    # Delivery. EMAIL_TO None: mail_admins (ADMINS); [] sends no email.
    "EMAIL_TO": None,
    "EMAIL_SUBJECT_PREFIX": "[Whereby Insights] ",
    # Seconds one alert mail may take in total, connection to last reply (the tick waits no longer).
    "EMAIL_TIMEOUT": 30.0,
    # Absolute base of the links in mail and chat messages, e.g. "https://intranet.example.com".
    "SITE_URL": None,
    # Outgoing webhook (a secret, masked everywhere): Slack or Teams incoming webhook URL.
    "WEBHOOK_URL": None,
    "WEBHOOK_TOKEN": None,
    "WEBHOOK_FORMAT": "slack",
    # Seconds one post may take in total, connection to status line, however slowly the hook answers.
    "WEBHOOK_TIMEOUT": 10.0,
    "WEBHOOK_RETRY_INTERVALS": [10, 60, 300],
    # RQ queue of the webhook posts (None: QUEUE above, then the app's QUEUE).
    "WEBHOOK_QUEUE": None,
}

WEBHOOK_FORMATS = ("slack", "markdown", "teams")
MASK = "********"


def user_alerts() -> Any:
    """The site's ``ALERTS`` value as written (may be anything; the checks report bad shapes)."""
    return get_settings().ALERTS


def alert_settings() -> dict[str, Any]:
    """The merged alert settings (the site's dict over the defaults)."""
    user = user_alerts()
    return {**ALERT_DEFAULTS, **(user if isinstance(user, dict) else {})}


def masked(values: dict[str, Any]) -> dict[str, Any]:
    """A copy safe to print: the hook URL and token replaced by a mask."""
    return {k: (MASK if k in ("WEBHOOK_URL", "WEBHOOK_TOKEN") and v else v) for k, v in values.items()}


def stale_after_minutes(values: dict[str, Any] | None = None) -> float:
    """STALE_AFTER_MINUTES, or three schedule intervals when unset."""
    values = values or alert_settings()
    if values["STALE_AFTER_MINUTES"] is not None:
        return float(values["STALE_AFTER_MINUTES"])
    return 3.0 * float(get_settings().SCHEDULE_INTERVAL_MINUTES)
