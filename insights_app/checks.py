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

from .conf import (
    DEFAULTS,
    DETAIL_POLICIES,
    SETTING_NAME,
    SETTINGS,
    SETTINGS_BY_NAME,
    Setting,
    get_settings,
    unknown_setting_keys,
)
from .whereby.budget.current import reported_plan
from .whereby.budget.figures import is_auto

CHECK_ID = "insights_app.{}"
# `manage.py check --tag insights_app` runs only these; a plain `check` runs them with all others.
TAG = "insights_app"
LOOPBACK_HOSTS = {"localhost"}

# (key, accepted types, lowest allowed, highest allowed), read from conf.SETTINGS; bool is refused
# separately because it is an int, and NaN and infinities because they compare as in range.
NUMERIC_RULES: tuple[tuple[str, tuple[type, ...], float | None, float | None], ...] = tuple(
    (s.name, s.types, s.low, s.high) for s in SETTINGS if s.is_number
)
PACKET_LOSS_UNITS = SETTINGS_BY_NAME["PACKET_LOSS_UNIT"].choices
REDIS_SCHEMES = {"redis", "rediss", "unix"}


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
    """W001: without an API key the site shows stored data but cannot sync; E010/E014: a key that cannot be sent."""
    if not _shape_ok():
        return []
    key = get_settings().API_KEY
    if isinstance(key, str) and key.strip():
        if all(char.isascii() and char.isprintable() and not char.isspace() for char in key):
            return []
        # Never echo the key: it is a secret, and the offending character may be invisible.
        return [
            Error(
                f"{SETTING_NAME}['API_KEY'] contains characters an HTTP header cannot carry "
                "(non-ASCII letters, spaces, newlines or control characters).",
                hint="Copy the key again from your Whereby dashboard; a trailing newline from a secrets "
                "file or a typographic quote pasted with it are the usual causes. Strip it where you read it.",
                id=_id("E014"),
            )
        ]
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
    """E004: BASE_URL must be an http(s) URL without query or fragment; E003: plain http only in DEBUG or to this machine."""
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
    if parts.query or parts.fragment or url.rstrip().endswith(("?", "#")):
        return [
            Error(
                f"{SETTING_NAME}['BASE_URL'] has a query or fragment ({url!r}): the app appends paths "
                "and its own parameters, so they would be lost or corrupt every request.",
                hint=f"Give only scheme, host and path, e.g. {DEFAULTS['BASE_URL']}.",
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


@register(TAG)
def check_values(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E007: numbers (or retry intervals) of the wrong type or out of range; E008: an empty queue name; E013: a loss unit."""
    if not _shape_ok():
        return []
    conf = get_settings()
    messages: list[CheckMessage] = []
    for spec in SETTINGS:
        problem = spec.problem(getattr(conf, spec.name))
        if problem:
            messages.append(
                Error(
                    f"{SETTING_NAME}[{spec.name!r}] {problem}.",
                    hint=f"{spec.doc} Leave it out to use the default ({spec.default!r}); see docs/settings.md.",
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
    if is_auto(budget):
        return []  # a share of the plan is never above it
    source = "PLAN_POINTS_PER_MINUTE"
    if is_auto(plan):
        plan, source = reported_plan(), "the plan the API reports (X-RateLimit-Limit)"
        if plan is None:
            return []  # not known until a sync has talked to the API
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (budget, plan)):
        return []  # E007 reports the types
    if budget > plan:
        return [
            Warning(
                f"{SETTING_NAME}['RATE_BUDGET_POINTS_PER_MINUTE'] ({budget}) is above "
                f"{source} ({plan:g}): syncs will be throttled by Whereby and leave "
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


@register(TAG)
def check_rate_redis_url(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E015: RATE_REDIS_URL must be None or a redis://, rediss:// or unix:// URL."""
    if not _shape_ok():
        return []
    url = get_settings().RATE_REDIS_URL
    if url is None:
        return []
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is not None and parts.scheme in REDIS_SCHEMES and (parts.hostname or parts.path):
        return []
    # Only the scheme is named: a Redis URL may carry a password.
    shown = f"a {type(url).__name__}" if parts is None else f"scheme {parts.scheme or 'missing'!r}"
    return [
        Error(
            f"{SETTING_NAME}['RATE_REDIS_URL'] is not a Redis URL ({shown}).",
            hint="Use e.g. 'redis://localhost:6379/2' (or rediss://, unix://), or None to share the "
            "connection of the app's queue.",
            id=_id("E015"),
        )
    ]


@register(TAG)
def check_privacy(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E020: retention days not None or 1..36500, an unknown erasure mode, or a pseudonym key too short."""
    if not _shape_ok():
        return []
    conf = get_settings()
    problems = []
    days = conf.PERSONAL_DATA_RETENTION_DAYS
    if days is not None:
        rule = Setting("PERSONAL_DATA_RETENTION_DAYS", None, "", float, 1, 36_500)
        problem = rule.problem(days)
        if problem:
            problems.append(f"['PERSONAL_DATA_RETENTION_DAYS'] {problem} (None keeps everything)")
    if conf.ERASURE_MODE not in SETTINGS_BY_NAME["ERASURE_MODE"].choices:
        problems.append(f"['ERASURE_MODE'] is {conf.ERASURE_MODE!r}, not 'pseudonymise' or 'delete'")
    key = conf.PSEUDONYM_KEY
    if key is not None and (not isinstance(key, str) or len(key) < 32):
        # The message never repeats the key.
        problems.append("['PSEUDONYM_KEY'] must be a string of at least 32 characters, or None")
    return [
        Error(
            f"{SETTING_NAME}{problem}.",
            hint="See docs/privacy.md for what each privacy setting does.",
            id=_id("E020"),
        )
        for problem in problems
    ]
