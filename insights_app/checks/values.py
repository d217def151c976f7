"""Checks of the settings' shape and values: types, ranges, choices, the time zone, hooks, cron, privacy."""

from __future__ import annotations

import difflib
import re
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.utils.module_loading import import_string

from ..conf import (
    DEFAULTS,
    DETAIL_POLICIES,
    SETTING_NAME,
    SETTINGS,
    SETTINGS_BY_NAME,
    Setting,
    get_settings,
    shown,
    unknown_setting_keys,
)
from .base import TAG, check_id, shape_ok, user_dict

# (key, accepted types, lowest allowed, highest allowed), read from conf.SETTINGS; bool is refused
# separately because it is an int, and NaN and infinities because they compare as in range.
# A site key goes into RQ job ids and Redis keys: plain characters only.
SITE_KEY_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
NUMERIC_RULES: tuple[tuple[str, tuple[type, ...], float | None, float | None], ...] = tuple(
    (s.name, s.types, s.low, s.high) for s in SETTINGS if s.is_number
)
PACKET_LOSS_UNITS = SETTINGS_BY_NAME["PACKET_LOSS_UNIT"].choices


@register(TAG)
def check_settings_shape(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E009: WHEREBY_INSIGHTS must be a dict; W003: it must not hold unknown keys."""
    user = user_dict()
    if user is not None and not isinstance(user, dict):
        return [
            Error(
                f"{SETTING_NAME} must be a dict, not {type(user).__name__}.",
                hint=f'Write {SETTING_NAME} = {{"API_KEY": ..., "QUEUE": ...}} in your settings.',
                id=check_id("E009"),
            )
        ]
    messages: list[CheckMessage] = []
    for key in unknown_setting_keys():
        close = difflib.get_close_matches(key, DEFAULTS, n=1)
        hint = (
            f"Did you mean {shown(close[0])}?"
            if close
            else "See docs/settings.md for the keys the app reads."
        )
        messages.append(
            Warning(
                f"{SETTING_NAME} has an unknown key {shown(key)}; the app ignores it.",
                hint=hint,
                id=check_id("W003"),
            )
        )
    return messages


@register(TAG)
def check_values(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E007: numbers (or retry intervals) of the wrong type or out of range; E008: an empty queue name; E013: a loss unit."""
    if not shape_ok():
        return []
    conf = get_settings()
    messages: list[CheckMessage] = []
    for spec in SETTINGS:
        problem = spec.problem(getattr(conf, spec.name))
        if problem:
            messages.append(
                Error(
                    f"{SETTING_NAME}[{shown(spec.name)}] {problem}.",
                    hint=f"{spec.doc} Leave it out to use the default ({shown(spec.default)}); see docs/settings.md.",
                    id=check_id("E007"),
                )
            )
    if conf.PACKET_LOSS_UNIT not in PACKET_LOSS_UNITS:
        messages.append(
            Error(
                f"{SETTING_NAME}['PACKET_LOSS_UNIT'] is {shown(conf.PACKET_LOSS_UNIT)}.",
                hint=f"Use one of {', '.join(repr(u) for u in PACKET_LOSS_UNITS)}; 'auto' detects it per item.",
                id=check_id("E013"),
            )
        )
    if not isinstance(conf.QUEUE, str) or not conf.QUEUE.strip():
        messages.append(
            Error(
                f"{SETTING_NAME}['QUEUE'] must be a non-empty string.",
                hint=f"Leave it out to use {shown(DEFAULTS['QUEUE'])}.",
                id=check_id("E008"),
            )
        )
    site = conf.SITE_KEY
    if site is not None and not (isinstance(site, str) and SITE_KEY_PATTERN.fullmatch(site)):
        messages.append(
            Error(
                f"{SETTING_NAME}['SITE_KEY'] must be None or 1 to 64 letters, digits, '-', '_' or '.', "
                f"not a {type(site).__name__} of that shape.",
                hint="It names this site in job ids and Redis keys, e.g. 'staging'; leave it out to derive one "
                "from SECRET_KEY and the database.",
                id=check_id("E021"),
            )
        )
    return messages


@register(TAG)
def check_detail_policy(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E005: the detail policy must be one the sync knows."""
    if not shape_ok():
        return []
    policy = get_settings().DETAIL_POLICY
    if policy in DETAIL_POLICIES:
        return []
    return [
        Error(
            f"{SETTING_NAME}['DETAIL_POLICY'] is {shown(policy)}, which the sync does not know.",
            hint=f"Use one of {', '.join(repr(p) for p in DETAIL_POLICIES)} "
            "(recent fetches details of the last DETAIL_RECENT_DAYS days).",
            id=check_id("E005"),
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
            id=check_id("E006"),
        )
    ]


@register(TAG)
def check_external_id_resolver(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E011: EXTERNAL_ID_RESOLVER must be the dotted path of a callable."""
    if not shape_ok():
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
        except (ImportError, ValueError, TypeError) as exc:  # ".x": ValueError, "..": TypeError
            problem = f"{shown(resolver)} cannot be imported ({exc})"
        else:
            if not callable(target):
                problem = f"{shown(resolver)} is a {type(target).__name__}, which is not callable"
    if problem is None:
        return []
    return [
        Error(
            f"{SETTING_NAME}['EXTERNAL_ID_RESOLVER'] {problem}.",
            hint="Give the dotted path of a function that takes a list of external ids and returns "
            "{external_id: label or (label, url)}, e.g. 'myapp.insights.label_users', or leave it out.",
            id=check_id("E011"),
        )
    ]


@register(TAG)
def check_nightly_cron(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E012: NIGHTLY_FULL_SYNC_CRON must be a cron expression rq's scheduler accepts."""
    if not shape_ok():
        return []
    expression = get_settings().NIGHTLY_FULL_SYNC_CRON
    if expression is None:
        return []
    # Not our dependency but rq's (its cron scheduler): imported only when a nightly cron is set.
    from croniter import croniter

    if isinstance(expression, str) and croniter.is_valid(expression):
        return []
    return [
        Error(
            f"{SETTING_NAME}['NIGHTLY_FULL_SYNC_CRON'] is not a cron expression: {shown(expression)}.",
            hint="Use five fields, e.g. '30 2 * * *' for 02:30 every night, or None for no nightly full sync.",
            id=check_id("E012"),
        )
    ]


@register(TAG)
def check_privacy(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E020: retention days not None or 1..36500, an unknown erasure mode, or a pseudonym key too short."""
    if not shape_ok():
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
        problems.append(f"['ERASURE_MODE'] is {shown(conf.ERASURE_MODE)}, not 'pseudonymise' or 'delete'")
    key = conf.PSEUDONYM_KEY
    if key is not None and (not isinstance(key, str) or len(key) < 32):
        # The message never repeats the key.
        problems.append("['PSEUDONYM_KEY'] must be a string of at least 32 characters, or None")
    return [
        Error(
            f"{SETTING_NAME}{problem}.",
            hint="See docs/privacy.md for what each privacy setting does.",
            id=check_id("E020"),
        )
        for problem in problems
    ]
