"""System checks for the app's configuration (ids insights_app.E00x / W00x, see docs/checks.md)."""

from __future__ import annotations

import difflib
import ipaddress
from typing import Any
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.utils.module_loading import import_string

from .conf import DEFAULTS, DETAIL_POLICIES, SETTING_NAME, get_settings, unknown_setting_keys

CHECK_ID = "insights_app.{}"
# `manage.py check --tag insights_app` runs only these; a plain `check` runs them with all others.
TAG = "insights_app"
LOOPBACK_HOSTS = {"localhost"}

# (key, accepted types, lowest allowed, highest allowed); bool is refused separately because it is an int.
NUMERIC_RULES: tuple[tuple[str, tuple[type, ...], float | None, float | None], ...] = (
    ("PAGE_SIZE", (int,), 1, 100),
    ("MAX_PAGES", (int,), 1, None),
    ("MAX_RETRIES", (int,), 0, None),
    ("MAX_THROTTLE_RETRIES", (int,), 0, None),
    ("CONNECT_TIMEOUT", (int, float), 0.001, None),
    ("READ_TIMEOUT", (int, float), 0.001, None),
    ("BACKOFF_BASE", (int, float), 0, None),
    ("BACKOFF_MAX", (int, float), 0, None),
    ("MAX_RETRY_WAIT", (int, float), 0, None),
    ("PLAN_POINTS_PER_MINUTE", (int, float), 1, None),
    ("RATE_BUDGET_POINTS_PER_MINUTE", (int, float), 1, None),
    ("RATE_LOW_REMAINING", (int, float), 0, None),
    ("JOB_TIMEOUT", (int,), 1, None),
    ("FANOUT_ROOMS_PER_JOB", (int,), 1, None),
    ("FANOUT_MIN_ROOMS", (int,), 1, None),
    ("ABANDONED_AFTER_SECONDS", (int, float), 1, None),
    ("DETAIL_RECENT_DAYS", (int,), 1, None),
    ("LOOKBACK_MINUTES", (int, float), 0, None),
    ("SCHEDULE_INTERVAL_MINUTES", (int,), 1, None),
    ("DEGRADED_PACKET_LOSS_PERCENT", (int, float), 0, 100),
    ("DEGRADED_MIN_SECONDS", (int, float), 0, None),
)
PACKET_LOSS_UNITS = ("auto", "fraction", "percent")


def _id(code: str) -> str:
    return CHECK_ID.format(code)


def _is_loopback(host: str) -> bool:
    """True for hosts that never leave this machine, where plain http exposes nothing."""
    if host.lower() in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _user_dict() -> Any:
    return getattr(settings, SETTING_NAME, None)


@register(TAG)
def check_settings_shape(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E009: WHEREBY_INSIGHTS must be a dict; W003: it must not hold unknown keys."""
    user = _user_dict()
    if user is not None and not isinstance(user, dict):
        return [
            Error(
                f"{SETTING_NAME} must be a dict, not {type(user).__name__}.",
                hint=f'Write {SETTING_NAME} = {{"API_KEY": ..., "QUEUE": ...}} in your settings.',
                id=_id("E009"),
            )
        ]
    messages: list[CheckMessage] = []
    for key in unknown_setting_keys():
        close = difflib.get_close_matches(key, DEFAULTS, n=1)
        hint = f"Did you mean {close[0]!r}?" if close else "See docs/settings.md for the keys the app reads."
        messages.append(
            Warning(
                f"{SETTING_NAME} has an unknown key {key!r}; the app ignores it.",
                hint=hint,
                id=_id("W003"),
            )
        )
    return messages


def _shape_ok() -> bool:
    user = _user_dict()
    return user is None or isinstance(user, dict)


@register(TAG)
def check_api_key(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W001: without an API key the site shows stored data but cannot sync."""
    if not _shape_ok():
        return []
    key = get_settings().API_KEY
    if isinstance(key, str) and key.strip():
        return []
    if key is not None and not isinstance(key, str):
        return [
            Error(
                f"{SETTING_NAME}['API_KEY'] must be a string.",
                hint="Read it from the environment, e.g. os.environ.get('WHEREBY_API_KEY').",
                id=_id("E010"),
            )
        ]
    return [
        Warning(
            f"{SETTING_NAME}['API_KEY'] is not set: syncs cannot reach the Whereby API.",
            hint="Create an API key in your Whereby dashboard and set "
            f"{SETTING_NAME}['API_KEY'], e.g. from the WHEREBY_API_KEY environment variable.",
            id=_id("W001"),
        )
    ]


@register(TAG)
def check_queue(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E001: django_rq must be installed; E002: our queue must be configured in RQ_QUEUES."""
    if not apps.is_installed("django_rq"):
        return [
            Error(
                "'django_rq' is not in INSTALLED_APPS: sync jobs cannot be queued or run.",
                hint="Add 'django_rq' to INSTALLED_APPS (before or after 'insights_app').",
                id=_id("E001"),
            )
        ]
    if not _shape_ok():
        return []
    queue = get_settings().QUEUE
    queues = getattr(settings, "RQ_QUEUES", None) or {}
    if not isinstance(queue, str) or queue not in queues:
        return [
            Error(
                f"The queue {queue!r} ({SETTING_NAME}['QUEUE']) is not in RQ_QUEUES.",
                hint=f'Add it: RQ_QUEUES = {{..., "{queue}": {{"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600}}}}, '
                f"or point {SETTING_NAME}['QUEUE'] at a queue you already have.",
                id=_id("E002"),
            )
        ]
    return []


@register(TAG)
def check_base_url(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E004: BASE_URL must be an http(s) URL; E003: plain http only in DEBUG or to this machine."""
    if not _shape_ok():
        return []
    url = get_settings().BASE_URL
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        return [
            Error(
                f"{SETTING_NAME}['BASE_URL'] is not an http(s) URL: {url!r}.",
                hint=f"Leave it out to use {DEFAULTS['BASE_URL']}.",
                id=_id("E004"),
            )
        ]
    if parts.scheme == "http" and not settings.DEBUG and not _is_loopback(parts.hostname):
        return [
            Error(
                f"{SETTING_NAME}['BASE_URL'] uses plain http ({parts.hostname}): the API key would "
                "cross the network unencrypted.",
                hint=f"Use https (the default is {DEFAULTS['BASE_URL']}). Plain http is accepted only "
                "with DEBUG on or to 127.0.0.1/localhost (the local simulator).",
                id=_id("E003"),
            )
        ]
    return []


def _number_problem(key: str, value: Any, types: tuple[type, ...], low: Any, high: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, types):
        return f"must be {' or '.join(t.__name__ for t in types)}, not {type(value).__name__}"
    if low is not None and value < low:
        return f"must be at least {low}, not {value!r}"
    if high is not None and value > high:
        return f"must be at most {high}, not {value!r}"
    return None


@register(TAG)
def check_values(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E007: numbers of the wrong type or out of range; E008: an empty queue name; E013: a loss unit."""
    if not _shape_ok():
        return []
    conf = get_settings()
    messages: list[CheckMessage] = []
    for key, types, low, high in NUMERIC_RULES:
        problem = _number_problem(key, getattr(conf, key), types, low, high)
        if problem:
            messages.append(
                Error(
                    f"{SETTING_NAME}[{key!r}] {problem}.",
                    hint=f"Leave it out to use the default ({DEFAULTS[key]!r}); see docs/settings.md.",
                    id=_id("E007"),
                )
            )
    if conf.PACKET_LOSS_UNIT not in PACKET_LOSS_UNITS:
        messages.append(
            Error(
                f"{SETTING_NAME}['PACKET_LOSS_UNIT'] is {conf.PACKET_LOSS_UNIT!r}.",
                hint=f"Use one of {', '.join(repr(u) for u in PACKET_LOSS_UNITS)}; 'auto' detects it per item.",
                id=_id("E013"),
            )
        )
    if not isinstance(conf.QUEUE, str) or not conf.QUEUE.strip():
        messages.append(
            Error(
                f"{SETTING_NAME}['QUEUE'] must be a non-empty string.",
                hint=f"Leave it out to use {DEFAULTS['QUEUE']!r}.",
                id=_id("E008"),
            )
        )
    return messages


@register(TAG)
def check_rate_budget(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W002: a budget above the plan starves the customer's own product and earns 429s."""
    if not _shape_ok():
        return []
    conf = get_settings()
    budget, plan = conf.RATE_BUDGET_POINTS_PER_MINUTE, conf.PLAN_POINTS_PER_MINUTE
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (budget, plan)):
        return []  # E007 reports the types
    if budget > plan:
        return [
            Warning(
                f"{SETTING_NAME}['RATE_BUDGET_POINTS_PER_MINUTE'] ({budget}) is above "
                f"PLAN_POINTS_PER_MINUTE ({plan}): syncs will be throttled by Whereby and leave "
                "nothing for your own use of the API.",
                hint="Set the budget to at most your plan's points per minute (half of it leaves the "
                "other half to your product), or raise PLAN_POINTS_PER_MINUTE if your plan is larger.",
                id=_id("W002"),
            )
        ]
    return []


@register(TAG)
def check_detail_policy(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E005: the detail policy must be one the sync knows."""
    if not _shape_ok():
        return []
    policy = get_settings().DETAIL_POLICY
    if policy in DETAIL_POLICIES:
        return []
    return [
        Error(
            f"{SETTING_NAME}['DETAIL_POLICY'] is {policy!r}, which the sync does not know.",
            hint=f"Use one of {', '.join(repr(p) for p in DETAIL_POLICIES)} "
            "(recent fetches details of the last DETAIL_RECENT_DAYS days).",
            id=_id("E005"),
        )
    ]


@register(TAG)
def check_timezone_support(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E006: the API's times are aware datetimes, which need USE_TZ."""
    if settings.USE_TZ:
        return []
    return [
        Error(
            "USE_TZ is False: Whereby times are stored as aware UTC datetimes and cannot be saved.",
            hint="Set USE_TZ = True (Django's default since 5.0); TIME_ZONE still controls how "
            "times are shown.",
            id=_id("E006"),
        )
    ]


@register(TAG)
def check_external_id_resolver(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E011: EXTERNAL_ID_RESOLVER must be the dotted path of a callable."""
    if not _shape_ok():
        return []
    resolver = get_settings().EXTERNAL_ID_RESOLVER
    if resolver is None or resolver == "":
        return []
    problem: str | None = None
    if not isinstance(resolver, str):
        problem = f"is a {type(resolver).__name__}, not a dotted path"
    else:
        try:
            target = import_string(resolver)
        except ImportError as exc:
            problem = f"{resolver!r} cannot be imported ({exc})"
        else:
            if not callable(target):
                problem = f"{resolver!r} is a {type(target).__name__}, which is not callable"
    if problem is None:
        return []
    return [
        Error(
            f"{SETTING_NAME}['EXTERNAL_ID_RESOLVER'] {problem}.",
            hint="Give the dotted path of a function that takes a list of external ids and returns "
            "{external_id: label or (label, url)}, e.g. 'myapp.insights.label_users', or leave it out.",
            id=_id("E011"),
        )
    ]


@register(TAG)
def check_nightly_cron(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E012: NIGHTLY_FULL_SYNC_CRON must be a cron expression rq's scheduler accepts."""
    if not _shape_ok():
        return []
    expression = get_settings().NIGHTLY_FULL_SYNC_CRON
    if expression is None:
        return []
    from croniter import croniter  # rq depends on croniter for its cron scheduler

    if isinstance(expression, str) and croniter.is_valid(expression):
        return []
    return [
        Error(
            f"{SETTING_NAME}['NIGHTLY_FULL_SYNC_CRON'] is not a cron expression: {expression!r}.",
            hint="Use five fields, e.g. '30 2 * * *' for 02:30 every night, or None for no nightly full sync.",
            id=_id("E012"),
        )
    ]
