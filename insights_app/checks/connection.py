"""Checks of what the app connects to: the API key, the base URL, the queue, the rate budget and its Redis."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from ..conf import (
    DEFAULTS,
    SETTING_NAME,
    get_settings,
    shown,
    url_parts,
)
from ..whereby.budget.current import reported_plan
from ..whereby.budget.figures import is_auto
from .base import TAG, check_id, shape_ok

LOOPBACK_HOSTS = {"localhost"}
REDIS_SCHEMES = {"redis", "rediss", "unix"}


def is_loopback(host: str) -> bool:
    """True for hosts that never leave this machine, where plain http exposes nothing."""
    if host.lower() in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@register(TAG)
def check_api_key(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W001: without an API key the site shows stored data but cannot sync; E010/E014: a key that cannot be sent."""
    if not shape_ok():
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
                id=check_id("E014"),
            )
        ]
    if key is not None and not isinstance(key, str):
        return [
            Error(
                f"{SETTING_NAME}['API_KEY'] must be a string.",
                hint="Read it from the environment, e.g. os.environ.get('WHEREBY_API_KEY').",
                id=check_id("E010"),
            )
        ]
    return [
        Warning(
            f"{SETTING_NAME}['API_KEY'] is not set: syncs cannot reach the Whereby API.",
            hint="Create an API key in your Whereby dashboard and set "
            f"{SETTING_NAME}['API_KEY'], e.g. from the WHEREBY_API_KEY environment variable.",
            id=check_id("W001"),
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
                id=check_id("E001"),
            )
        ]
    if not shape_ok():
        return []
    queue = get_settings().QUEUE
    queues = getattr(settings, "RQ_QUEUES", None) or {}
    if not isinstance(queue, str) or queue not in queues:
        return [
            Error(
                f"The queue {shown(queue)} ({SETTING_NAME}['QUEUE']) is not in RQ_QUEUES.",
                hint=f'Add it: RQ_QUEUES = {{..., "{queue}": {{"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600}}}}, '
                f"or point {SETTING_NAME}['QUEUE'] at a queue you already have.",
                id=check_id("E002"),
            )
        ]
    return []


@register(TAG)
def check_base_url(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E004: BASE_URL must be an http(s) URL without query or fragment; E003: plain http only in DEBUG or to this machine."""
    if not shape_ok():
        return []
    url = get_settings().BASE_URL
    parts = url_parts(url)
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        return [
            Error(
                f"{SETTING_NAME}['BASE_URL'] is not an http(s) URL: {shown(url)}.",
                hint=f"Leave it out to use {DEFAULTS['BASE_URL']}.",
                id=check_id("E004"),
            )
        ]
    if parts.query or parts.fragment or url.rstrip().endswith(("?", "#")):
        return [
            Error(
                f"{SETTING_NAME}['BASE_URL'] has a query or fragment ({shown(url)}): the app appends paths "
                "and its own parameters, so they would be lost or corrupt every request.",
                hint=f"Give only scheme, host and path, e.g. {DEFAULTS['BASE_URL']}.",
                id=check_id("E004"),
            )
        ]
    if parts.scheme == "http" and not settings.DEBUG and not is_loopback(parts.hostname):
        return [
            Error(
                f"{SETTING_NAME}['BASE_URL'] uses plain http ({parts.hostname}): the API key would "
                "cross the network unencrypted.",
                hint=f"Use https (the default is {DEFAULTS['BASE_URL']}). Plain http is accepted only "
                "with DEBUG on or to 127.0.0.1/localhost (the local simulator).",
                id=check_id("E003"),
            )
        ]
    return []


@register(TAG)
def check_rate_budget(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W002: a budget above the plan starves the customer's own product and earns 429s."""
    if not shape_ok():
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
                id=check_id("W002"),
            )
        ]
    return []


@register(TAG)
def check_rate_redis_url(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E015: RATE_REDIS_URL must be None or a redis://, rediss:// or unix:// URL."""
    if not shape_ok():
        return []
    url = get_settings().RATE_REDIS_URL
    if url is None:
        return []
    parts = url_parts(url)
    if parts is not None and parts.scheme in REDIS_SCHEMES and (parts.hostname or parts.path):
        return []
    # Only the scheme is named: a Redis URL may carry a password.
    named = f"a {type(url).__name__}" if parts is None else f"scheme {shown(parts.scheme or 'missing')}"
    return [
        Error(
            f"{SETTING_NAME}['RATE_REDIS_URL'] is not a Redis URL ({named}).",
            hint="Use e.g. 'redis://localhost:6379/2' (or rediss://, unix://), or None to share the "
            "connection of the app's queue.",
            id=check_id("E015"),
        )
    ]
