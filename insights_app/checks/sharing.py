"""W005: another site uses our queue on the same Redis database (names it, and says how to part them)."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Warning, register

from ..conf import SETTING_NAME, get_settings, shown
from ..redis_clients import queue_redis
from ..site import other_sites, register_site, site_key
from .base import TAG, check_id, shape_ok
from .values import SITE_KEY_PATTERN

# A check runs before every command: a Redis that does not answer must not hold it up.
TIMEOUT_SECONDS = 1.0


@register(TAG)
def check_shared_queue(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W005: the queue's Redis has seen another site on this queue within a day."""
    if not shape_ok():
        return []
    name = get_settings().QUEUE
    configured = get_settings().SITE_KEY
    if configured is not None and not (
        isinstance(configured, str) and SITE_KEY_PATTERN.fullmatch(configured)
    ):
        return []  # E021 says what is wrong; such a key is not put into Redis
    try:
        connection = queue_redis(name, TIMEOUT_SECONDS)
        register_site(connection, name)
        others = other_sites(connection, name)
    except Exception:  # (queue not configured: E002; Redis down: the dashboard says so)
        return []
    if not others:
        return []
    named = "; ".join(f"site {key} ({label})" for key, label in sorted(others.items()))
    return [
        Warning(
            f"Another site uses the queue {shown(name)} on the same Redis database: {named}. "
            f"This site is {site_key()}. Each site's workers put the other's jobs back instead of "
            "running them, so jobs wait for the right site's workers and every worker works for both.",
            hint=f"Give each site its own {SETTING_NAME}['QUEUE'] (and RQ_QUEUES entry, and workers on "
            "it), or its own Redis database in RQ_QUEUES (e.g. redis://host:6379/1 for staging); see "
            "docs/deployment.md, 'Several sites on one Redis'.",
            id=check_id("W005"),
        )
    ]
