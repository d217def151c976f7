"""The budget this process draws from (the shared one, else its own) and what the dashboard shows of it."""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis

from ...conf import get_settings
from ...redis_clients import queue_redis, url_redis
from ..rate_headers import number
from .local import LocalBudget
from .shared import RedisBudget, as_text, budget_key

logger = logging.getLogger(__name__)


def budget_points_per_minute() -> float:
    """Our budget now (for job timeouts and estimates), using the plan learned by any process."""
    return get_budget().figures().budget


_local_budgets: dict[str, LocalBudget] = {}
_local_lock = threading.Lock()


def _redis_connection() -> redis.Redis:
    """The budget's Redis client: RATE_REDIS_URL, else the queue's server; short timeouts, reused."""
    conf = get_settings()
    if conf.RATE_REDIS_URL:
        return url_redis(conf.RATE_REDIS_URL, 2.0)
    return queue_redis(conf.QUEUE, 2.0)


def get_budget(api_key: str | None = None, base_url: str | None = None) -> LocalBudget | RedisBudget:
    """The shared Redis budget, or a per-process one (with a warning) when Redis does not answer."""
    conf = get_settings()
    api_key = conf.API_KEY if api_key is None else api_key
    base_url = base_url or conf.BASE_URL
    key = budget_key(api_key, base_url)
    try:
        connection = _redis_connection()
        connection.ping()
        return RedisBudget(connection, key)
    except (redis.RedisError, OSError) as exc:
        logger.warning(
            "Redis is not reachable (%s); this process keeps its own rate budget", type(exc).__name__
        )
    with _local_lock:
        return _local_budgets.setdefault(key, LocalBudget())


def budget_snapshot() -> dict[str, Any]:
    """What the sync dashboard and the command show about the budget."""
    budget = get_budget()
    figures = budget.figures()
    used_now, used_before = budget.used_per_minute() if isinstance(budget, RedisBudget) else (None, None)
    costs = budget.cost_sources()
    return {
        "points_per_minute": round(figures.budget, 1),
        "budget_source": figures.budget_source,
        "share": figures.share,
        "plan_points_per_minute": round(figures.plan, 1),
        "plan_source": figures.plan_source,
        "limiter": budget.shape(),
        "cautious_points": budget.points_for("any endpoint not called yet"),
        "points_per_call": {endpoint.rsplit("/", 1)[-1]: cost for endpoint, (cost, _s) in costs.items()},
        "cost_sources": {endpoint.rsplit("/", 1)[-1]: source for endpoint, (_c, source) in costs.items()},
        "rejected": list(budget.readings.rejected),
        "rejected_count": budget.readings.rejected_count,
        "spent_last_minute": budget.spent_last_minute(),
        "available": budget.available(),
        "used_this_minute": used_now,
        "used_last_minute": used_before,
        "backend": getattr(budget, "backend", "local"),
    }


def reported_plan() -> float | None:
    """The plan the API last reported (X-RateLimit-Limit) for the configured key, if Redis knows it."""
    conf = get_settings()
    try:
        connection = _redis_connection()
        value = connection.get(f"insights:ratebudget:{budget_key(conf.API_KEY, conf.BASE_URL)}:plan")
    except (redis.RedisError, OSError):
        return None
    return number(as_text(value)) if value else None
