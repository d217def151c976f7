"""System checks of ``WHEREBY_INSIGHTS["ALERTS"]`` (ids E016-E018, W004, W006; see docs/checks.md).

Messages never repeat the webhook URL or token: they are secrets.
"""

from __future__ import annotations

import difflib
import math
from typing import Any, cast

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from ..conf import ONE_DAY, SETTING_NAME, shown, url_parts
from ..models import AlertRule
from .settings import ALERT_DEFAULTS, WEBHOOK_FORMATS, user_alerts

ALERTS = "WHEREBY_INSIGHTS['ALERTS']"
# Upper bounds: a post or a mail holds a worker at most this long, a delivery at most so many times.
MAX_WEBHOOK_TIMEOUT = 60
MAX_EMAIL_TIMEOUT = 300
MAX_WEBHOOK_RETRIES = 10
MAX_RETRY_INTERVAL = ONE_DAY


def _id(code: str) -> str:
    return f"insights_app.{code}"


def _shape_ok() -> bool:
    """WHEREBY_INSIGHTS is a dict (or unset); otherwise E009 speaks and these checks stay quiet."""
    user = getattr(settings, SETTING_NAME, None)
    return user is None or isinstance(user, dict)


# (key, accepted types, lowest allowed, highest allowed, may be None)
NUMBERS: tuple[tuple[str, tuple[type, ...], float, float, bool], ...] = (
    ("CHECK_INTERVAL_SECONDS", (int,), 1, ONE_DAY, False),
    ("STALE_AFTER_MINUTES", (int, float), 1, 366 * 24 * 60, True),
    ("FAILED_RUNS_IN_A_ROW", (int,), 0, 1000, False),
    ("BUDGET_WINDOW_MINUTES", (int, float), 1, 7 * 24 * 60, False),
    ("BUDGET_MAX_THROTTLES", (int,), 0, 1_000_000, False),
    ("QUALITY_DEGRADED_PERCENT", (int, float), 0, 100, False),
    ("QUALITY_MIN_CONNECTIONS", (int,), 1, 1_000_000, False),
    ("QUALITY_WINDOW_HOURS", (int, float), 1, 366 * 24, False),
    ("WORKER_GONE_MINUTES", (int, float), 1, 7 * 24 * 60, False),
    # Each attempt holds a worker this long at most: a minute is already more than any hook needs.
    ("WEBHOOK_TIMEOUT", (int, float), 0.1, MAX_WEBHOOK_TIMEOUT, False),
    ("EMAIL_TIMEOUT", (int, float), 1, MAX_EMAIL_TIMEOUT, False),
)


def _number_problem(
    key: str, value: Any, types: tuple[type, ...], low: float, high: float, nullable: bool
) -> str | None:
    if value is None and nullable:
        return None
    kinds = " or ".join(t.__name__ for t in types)
    text = shown(value)
    bad = f"{key} must be {kinds}, at least {low}, not {text}"
    if isinstance(value, bool) or not isinstance(value, types):
        return bad
    number = cast(float, value)
    # (an int is compared as it is: float() of one with 400 digits would raise)
    if (isinstance(number, float) and not math.isfinite(number)) or number < low:
        return bad
    return f"{key} must be at most {high}, not {text}" if number > high else None


def _retry_problem(intervals: Any) -> str | None:
    if not isinstance(intervals, list | tuple) or not all(
        isinstance(i, int) and not isinstance(i, bool) and 0 <= i <= MAX_RETRY_INTERVAL for i in intervals
    ):
        return f"WEBHOOK_RETRY_INTERVALS must be a list of seconds (whole numbers from 0 to {MAX_RETRY_INTERVAL})"
    if len(intervals) > MAX_WEBHOOK_RETRIES:
        return f"WEBHOOK_RETRY_INTERVALS may hold at most {MAX_WEBHOOK_RETRIES} retries, not {len(intervals)}"
    return None


def _site_url_problem(url: Any) -> str | None:
    """SITE_URL starts every link in mail and chat: only an absolute http(s) URL may."""
    if url is None or url == "":
        return None
    parts = url_parts(url)
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return f"SITE_URL must be an absolute http(s) URL such as 'https://intranet.example.com', not {shown(url)}"
    return None


def _value_problems(values: dict[str, Any]) -> list[str]:
    problems = [
        problem
        for key, types, low, high, nullable in NUMBERS
        if (problem := _number_problem(key, values[key], types, low, high, nullable))
    ]
    to = values["EMAIL_TO"]
    if to is not None and (
        isinstance(to, str)
        or not isinstance(to, list | tuple)
        or not all(isinstance(a, str) and "@" in a for a in to)
    ):
        problems.append("EMAIL_TO must be a list of addresses (None: ADMINS; []: no mail)")
    disabled = values["DISABLED_RULES"]
    if not isinstance(disabled, list | tuple) or any(rule not in AlertRule.values for rule in disabled):
        problems.append(f"DISABLED_RULES must list rule names among {', '.join(AlertRule.values)}")
    if values["WEBHOOK_FORMAT"] not in WEBHOOK_FORMATS:
        problems.append(f"WEBHOOK_FORMAT must be one of {', '.join(WEBHOOK_FORMATS)}")
    for problem in (_retry_problem(values["WEBHOOK_RETRY_INTERVALS"]), _site_url_problem(values["SITE_URL"])):
        if problem:
            problems.append(problem)
    for key in ("QUEUE", "WEBHOOK_QUEUE", "WEBHOOK_TOKEN"):
        if values[key] is not None and not isinstance(values[key], str):
            problems.append(f"{key} must be a string or None")
    for key in ("QUEUE", "WEBHOOK_QUEUE"):
        if isinstance(values[key], str) and values[key] not in (getattr(settings, "RQ_QUEUES", None) or {}):
            problems.append(f"{key} {shown(values[key])} is not in RQ_QUEUES")
    return problems


def _webhook_problem(url: Any) -> str | None:
    """What is wrong with the hook URL, in words that never quote it."""
    if url is None or url == "":
        return None
    parts = url_parts(url)
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return "WEBHOOK_URL is not an http(s) URL (value not shown: it is a secret)"
    if (
        parts.scheme == "http"
        and not settings.DEBUG
        and parts.hostname not in ("127.0.0.1", "::1", "localhost")
    ):
        return "WEBHOOK_URL uses plain http: its secret path would cross the network unencrypted"
    return None


@register("insights_app")
def check_alerts(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E016: ALERTS is not a dict; W004: unknown keys; E017: bad values; E018: a bad webhook URL."""
    if not _shape_ok():
        return []  # E009 reports it
    user = user_alerts()
    if not isinstance(user, dict):
        return [
            Error(
                f"{ALERTS} must be a dict, not {type(user).__name__}.",
                hint="See docs/alerts.md.",
                id=_id("E016"),
            )
        ]
    messages: list[CheckMessage] = []
    for key in sorted(set(user) - set(ALERT_DEFAULTS)):
        close = difflib.get_close_matches(key, ALERT_DEFAULTS, n=1)
        hint = f"Did you mean {shown(close[0])}?" if close else "See docs/alerts.md for the keys."
        messages.append(
            Warning(f"{ALERTS} has an unknown key {shown(key)}; it is ignored.", hint=hint, id=_id("W004"))
        )
    values = {**ALERT_DEFAULTS, **user}
    for problem in _value_problems(values):
        messages.append(
            Error(
                f"{ALERTS}: {problem}.",
                hint="Leave the key out to use its default; see docs/alerts.md.",
                id=_id("E017"),
            )
        )
    hook_problem = _webhook_problem(values["WEBHOOK_URL"])
    if hook_problem:
        messages.append(
            Error(
                f"{ALERTS}: {hook_problem}.",
                hint="Paste the https URL your Slack or Teams incoming webhook shows; read it from the environment.",
                id=_id("E018"),
            )
        )
    return messages


@register("insights_app", deploy=True)
def check_alert_recipients(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W006 (``check --deploy``): alerts would reach no one, neither by mail nor by chat hook.

    A deployment check: a development site without ADMINS is normal, and a warning before every
    command's output would teach people to ignore warnings.
    """
    if not _shape_ok():
        return []
    user = user_alerts()
    if not isinstance(user, dict):
        return []  # E016 reports it
    values = {**ALERT_DEFAULTS, **user}
    if values["EMAIL_TO"] is not None or values["WEBHOOK_URL"] or getattr(settings, "ADMINS", None):
        return []  # [] is "no mail" chosen on purpose; a list or a hook or ADMINS is a recipient
    return [
        Warning(
            "Alerts reach no one: ADMINS is empty, "
            f"{ALERTS}['EMAIL_TO'] and {ALERTS}['WEBHOOK_URL'] are not set.",
            hint="Give alerts a recipient in one of three ways: set Django's ADMINS, set "
            f"{ALERTS}['EMAIL_TO'] to a list of addresses, or set {ALERTS}['WEBHOOK_URL'] to a Slack or "
            f"Teams incoming webhook. Set {ALERTS}['EMAIL_TO'] = [] to say that no mail is wanted "
            "(docs/alerts.md).",
            id=_id("W006"),
        )
    ]
