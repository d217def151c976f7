"""App settings: one ``WHEREBY_INSIGHTS`` dict merged over typed defaults, read lazily and cached.

``SETTINGS`` is the single source of every key's type, default, allowed range or values and one-line
description: ``get_settings()`` merges over its defaults, ``checks.py`` validates with it and a
test holds ``docs/settings.md`` to it.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import SplitResult, urlsplit

from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.dispatch import receiver

SETTING_NAME = "WHEREBY_INSIGHTS"

# A day: long enough for any real timeout or wait, short enough for sockets and timedelta.
ONE_DAY = 86_400


@dataclass(frozen=True)
class Setting:
    """One key of ``WHEREBY_INSIGHTS``: its type, default, allowed values and what it does."""

    name: str
    default: Any
    doc: str
    # int, float (an int is accepted too), str, list (of ints, see item_low) or object (checked elsewhere).
    kind: type = object
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    nullable: bool = False

    @property
    def is_number(self) -> bool:
        """True for int and float settings, which are range-checked (E007)."""
        return self.kind in (int, float)

    @property
    def types(self) -> tuple[type, ...]:
        """The Python types a site may give; a float setting takes an int too."""
        return (int, float) if self.kind is float else (self.kind,)

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not acceptable for a number or list setting, or None when it is."""
        if self.kind is list:
            return _list_problem(value)
        if self.kind is bool:
            return None if isinstance(value, bool) else f"must be True or False, not {type(value).__name__}"
        if not self.is_number or (self.choices and value in self.choices):
            return None  # a number setting may also take a word, e.g. "auto"
        if isinstance(value, bool) or not isinstance(value, self.types):
            return f"must be {' or '.join(t.__name__ for t in self.types)}, not {type(value).__name__}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"must be a finite number, not {shown(value)}"
        if abs(value) > sys.float_info.max:  # an int past every float: each reader's float() would fail
            return f"must be a finite number, not {shown(value)}"  # (past 1,000 bits: said by size)
        if self.low is not None and value < self.low:
            return f"must be at least {self.low}, not {shown(value)}"
        if self.high is not None and value > self.high:
            return f"must be at most {self.high}, not {shown(value)}"
        return None


def shown(value: Any) -> str:
    """``value`` as a message shows it: repr() cut at 200 characters, and an int past 4,300 digits
    (whose repr() raises) by its size."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value).bit_length() > 1000:
        return f"an integer of about {int(abs(value).bit_length() * math.log10(2)) + 1} digits"
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an int deep inside a list, or a list that holds itself
        return f"a {type(value).__name__} that cannot be shown"
    return text if len(text) <= 200 else text[:200] + "…"


def url_parts(value: Any) -> SplitResult | None:
    """A URL's parts, or None when ``value`` is no string or no URL (a bad IPv6 host, a port past 65535)."""
    if not isinstance(value, str):
        return None
    try:
        parts = urlsplit(value)
        parts.hostname, parts.port  # noqa: B018 (each raises ValueError on a malformed authority)
    except ValueError:
        return None
    return parts


def _list_problem(value: Any) -> str | None:
    # Only JOB_RETRY_INTERVALS is a list: seconds before each RQ retry.
    if not isinstance(value, list | tuple):
        return f"must be a list of seconds, e.g. [30, 120], not {type(value).__name__}"
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int):
            return f"must hold whole seconds (int), not {type(item).__name__} {shown(item)}"
        if not 0 <= item <= ONE_DAY:
            return f"must hold seconds from 0 to {ONE_DAY}, not {shown(item)}"
    return None


DETAIL_POLICY_CHOICES = ("all", "recent", "none")
PACKET_LOSS_UNIT_CHOICES = ("auto", "fraction", "percent")
ERASURE_MODE_CHOICES = ("pseudonymise", "delete")

SETTINGS: tuple[Setting, ...] = (
    # Whereby API access
    Setting("API_KEY", None, "The organisation's Whereby API key.", str, nullable=True),
    Setting("BASE_URL", "https://api.whereby.dev/v1", "The API root URL.", str),
    Setting("CONNECT_TIMEOUT", 5.0, "Seconds to wait for a connection.", float, 0.001, ONE_DAY),
    Setting("READ_TIMEOUT", 30.0, "Seconds to wait for response data.", float, 0.001, ONE_DAY),
    Setting(
        "RESPONSE_TIMEOUT",
        60.0,
        "Overall deadline for one response, request to last byte (ends a trickling server).",
        float,
        0.001,
        ONE_DAY,
    ),
    Setting(
        "CALL_DEADLINE",
        90.0,
        "Seconds one API call may take in all: its attempts and the backoffs between them.",
        float,
        0.001,
        ONE_DAY,
    ),
    Setting("PAGE_SIZE", 100, "Items asked for per list call.", int, 1, 100),
    Setting(
        "FETCH_CONCURRENCY",
        8,
        "Requests one sync process keeps in flight at once (the rate budget still gates each).",
        int,
        1,
        64,
    ),
    Setting("MAX_PAGES", 10_000, "Cap on the pages one listing may follow.", int, 1),
    Setting("MAX_RETRIES", 5, "Retries of a request after a 5xx, reset or timeout.", int, 0, 20),
    Setting("MAX_THROTTLE_RETRIES", 20, "Retries of a request answered 429.", int, 0, 100),
    Setting("BACKOFF_BASE", 0.5, "Seconds of the first backoff.", float, 0, ONE_DAY),
    Setting("BACKOFF_MAX", 30.0, "Upper bound of one backoff, in seconds.", float, 0, ONE_DAY),
    Setting("MAX_RETRY_WAIT", 120.0, "Upper bound of a wait the API asks for.", float, 0, ONE_DAY),
    # Rate budget: our share of the organisation's points per minute, shared by every process
    Setting(
        "PLAN_POINTS_PER_MINUTE",
        "auto",
        'Points per minute the Whereby plan grants; "auto": as X-RateLimit-Limit reports it.',
        float,
        1,
        choices=("auto",),
    ),
    Setting(
        "RATE_BUDGET_POINTS_PER_MINUTE",
        "auto",
        'Points per minute the app may spend; "auto": RATE_BUDGET_SHARE of the plan.',
        float,
        1,
        choices=("auto",),
    ),
    Setting("RATE_BUDGET_SHARE", 0.5, 'The share of the plan an "auto" budget takes.', float, 0.01, 1),
    Setting("RATE_LOW_REMAINING", 10, "Remaining points at which every process pauses.", float, 0),
    Setting("RATE_REDIS_URL", None, "Redis URL of the shared rate budget.", str, nullable=True),
    # Queue and jobs
    Setting("QUEUE", "whereby_insights", "The django-rq queue of the sync jobs.", str),
    Setting(
        "SITE_KEY",
        None,
        "This site's name in job ids and Redis keys; None: derived from SECRET_KEY and the database.",
        str,
        nullable=True,
    ),
    Setting("JOB_TIMEOUT", 3600, "Seconds an RQ job may run.", int, 1),
    Setting("JOB_RETRY_INTERVALS", [30, 120], "Seconds before each RQ retry of a failed run.", list),
    Setting("FANOUT_ROOMS_PER_JOB", 25, "Rooms per child job of a fanned-out run.", int, 1),
    Setting("FANOUT_MIN_ROOMS", 50, "Rooms from which a run fans out.", int, 1),
    Setting(
        "ROLLUPS",
        True,
        "Keep the report rollups exact (writes mark their days stale, syncs and pages recompute them), so busy pages read them.",
        bool,
    ),
    Setting("ABANDONED_AFTER_SECONDS", 300, "Heartbeat age that marks a run abandoned.", float, 1, ONE_DAY),
    # What a sync fetches
    Setting(
        "DETAIL_POLICY",
        "recent",
        "Which connections get quality details.",
        str,
        choices=DETAIL_POLICY_CHOICES,
    ),
    Setting("DETAIL_RECENT_DAYS", 7, "The window of the recent detail policy, in days.", int, 1, 36_500),
    Setting(
        "DATA_LAG_MINUTES",
        "auto",
        'Minutes the API\'s data lags behind reality; "auto": the lag observed (15 before any is).',
        float,
        0,
        24 * 60,
        choices=("auto",),
    ),
    Setting(
        "LOOKBACK_MINUTES",
        "auto",
        'Minutes an incremental sync re-reads; "auto": DATA_LAG_MINUTES plus one schedule interval.',
        float,
        0,
        10 * 24 * 60,
        choices=("auto",),
    ),
    # Schedule read by insights_app.cron
    Setting("SCHEDULE_INTERVAL_MINUTES", 15, "Minutes between scheduled syncs.", int, 1),
    Setting("NIGHTLY_FULL_SYNC_CRON", None, "Cron expression of a nightly full sync.", str, nullable=True),
    # Reports
    Setting("DEGRADED_PACKET_LOSS_PERCENT", 3.0, "Packet loss that counts as degraded.", float, 0, 100),
    Setting("DEGRADED_MIN_SECONDS", 10, "Degraded seconds that flag a poor network.", float, 0),
    Setting(
        "PACKET_LOSS_UNIT",
        "auto",
        "How the API expresses packet loss.",
        str,
        choices=PACKET_LOSS_UNIT_CHOICES,
    ),
    Setting(
        "EXTERNAL_ID_RESOLVER", None, "Dotted path of the external-id label function.", str, nullable=True
    ),
    # Personal data (insights_app.privacy, docs/privacy.md)
    # None or a number of days: checked by E020 (number settings here cannot be None).
    Setting(
        "PERSONAL_DATA_RETENTION_DAYS",
        None,
        "Days after which a connection's personal fields become pseudonyms.",
        nullable=True,
    ),
    Setting("PSEUDONYM_KEY", None, "Secret key of pseudonyms and erasure hashes.", str, nullable=True),
    Setting(
        "ERASURE_MODE",
        "pseudonymise",
        "What erasure does to a person's rows.",
        str,
        choices=ERASURE_MODE_CHOICES,
    ),
    Setting("RETENTION_BATCH_SIZE", 2000, "Connections per retention batch.", int, 1, 50_000),
    # Alerts: a dict of its own, merged over insights_app.alerts.settings.ALERT_DEFAULTS
    Setting("ALERTS", {}, "Alert rules, thresholds and delivery (docs/alerts.md).", dict),
    # Webhooks (docs/webhooks.md)
    Setting("WEBHOOK_SECRET", None, "The webhook endpoint's signing secret.", str, nullable=True),
    Setting(
        "WEBHOOK_TOLERANCE_SECONDS", 300, "Seconds a signature's timestamp may be off.", float, 1, ONE_DAY
    ),
    Setting(
        "WEBHOOK_SYNC_DELAY_MINUTES",
        "auto",
        "Minutes from a session's end to its room's sync; \"auto\": the lag observed.",
        float,
        0,
        24 * 60,
        choices=("auto",),
    ),
    Setting(
        "WEBHOOK_EVENT_RETENTION_DAYS",
        30,
        "Days stored webhook events and rejection counts are kept.",
        int,
        7,
        36_500,
    ),
)
SETTINGS_BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS}
DETAIL_POLICIES = SETTINGS_BY_NAME["DETAIL_POLICY"].choices


class InsightsSettings:
    """Attribute-style access to the merged settings."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"{SETTING_NAME} has no setting {shown(name)}") from None

    def as_dict(self) -> dict[str, Any]:
        """A copy of every setting, with the API key, the pseudonym key and the webhook secret masked."""
        values = dict(self._values)
        for secret in ("API_KEY", "PSEUDONYM_KEY", "WEBHOOK_SECRET"):
            if values.get(secret):
                values[secret] = "********"
        if isinstance(values.get("ALERTS"), dict):  # the alert hook URL and token are secrets too
            values["ALERTS"] = {
                k: "********" if k in ("WEBHOOK_URL", "WEBHOOK_TOKEN") and v else v
                for k, v in values["ALERTS"].items()
            }
        return values


@cache
def get_settings() -> InsightsSettings:
    """The merged settings; cached until a test or the site changes ``WHEREBY_INSIGHTS``."""
    user = getattr(django_settings, SETTING_NAME, None) or {}
    merged = {**DEFAULTS, **user}
    return InsightsSettings(merged)


# What an "auto" DATA_LAG_MINUTES stands for when the lag observed is not given (sync.lag learns it).
CAUTIOUS_DATA_LAG_MINUTES = 15.0


def lookback_minutes(conf: InsightsSettings | None = None, learned_lag: float | None = None) -> float:
    """``LOOKBACK_MINUTES``, or with ``"auto"`` the data lag plus one schedule interval; an "auto"
    data lag is ``learned_lag`` (minutes; see ``sync.lag.lookback_minutes``) or a cautious 15."""
    conf = conf or get_settings()
    if conf.LOOKBACK_MINUTES != "auto":
        return float(conf.LOOKBACK_MINUTES)
    data_lag = conf.DATA_LAG_MINUTES
    if data_lag == "auto":
        data_lag = CAUTIOUS_DATA_LAG_MINUTES if learned_lag is None else learned_lag
    return float(data_lag) + float(conf.SCHEDULE_INTERVAL_MINUTES)


def unknown_setting_keys() -> list[str]:
    """Keys in ``WHEREBY_INSIGHTS`` that the app does not know (typos)."""
    user = getattr(django_settings, SETTING_NAME, None) or {}
    return sorted(set(user) - set(DEFAULTS))


@receiver(setting_changed)
def _clear_cache(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        get_settings.cache_clear()
