"""The rate budget: our share of the organisation's Whereby points, shared by every process.

Whereby's budget is per organisation and also serves the customer's own product, so every
worker and command draws from one token bucket in Redis. The bucket holds at most one token and
refills at ``points_per_minute / 60`` per second, so in any window of T seconds we spend at most
``1 + points_per_minute * T / 60`` points, however many processes share it. A 429 or a low
``X-RateLimit-Remaining`` sets a shared pause that every process honours.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import redis

from .conf import get_settings
from .connections import queue_redis, url_redis
from .errors import Interrupted

logger = logging.getLogger(__name__)

# KEYS[1] bucket hash, KEYS[2] pause key, KEYS[3] per-minute usage counter prefix;
# ARGV[1] rate per ms, ARGV[2] capacity, ARGV[3] points.
# Returns 0 when the points were taken, else the milliseconds to wait before trying again.
_TAKE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local pause_until = tonumber(redis.call('GET', KEYS[2]) or '0')
if pause_until > now then return pause_until - now end
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local points = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = capacity; ts = now end
tokens = math.min(capacity, tokens + (now - ts) * rate)
local result = 0
if tokens >= points then
  tokens = tokens - points
  local used = KEYS[3] .. ':' .. math.floor(now / 60000)
  redis.call('INCRBY', used, points)
  redis.call('EXPIRE', used, 180)
else
  result = math.ceil((points - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], 600000)
return result
"""

# Extend the shared pause to ARGV[1] ms from now unless it already lasts longer.
_PAUSE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local target = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if target > current then redis.call('SET', KEYS[1], tostring(target), 'PX', tonumber(ARGV[1]) + 1000) end
return target - now
"""


class RateBudget(Protocol):
    """What the client needs from a budget."""

    points_per_minute: float

    def acquire(self, points: int = 1, interrupt: Callable[[], bool] | None = None) -> float:
        """Block until ``points`` may be spent (``interrupt`` can stop the wait); returns seconds waited."""

    def pause(self, seconds: float) -> None:
        """Make every process sharing this budget wait ``seconds`` before its next call."""

    def available(self) -> float:
        """Tokens available right now (for the dashboard)."""


def wait_unless_interrupted(
    sleep: Callable[[float], None], seconds: float, interrupt: Callable[[], bool] | None, what: str
) -> float:
    """Sleep ``seconds``; when interruptible, in slices of at most two, asking ``interrupt`` before
    each slice and at the end, and raising Interrupted when it says stop. Returns the seconds slept."""
    if interrupt is None:
        sleep(seconds)
        return seconds
    remaining = seconds
    while True:
        if interrupt():
            raise Interrupted(f"stopped while waiting for {what}")
        if remaining <= 0:
            return seconds
        step = min(2.0, remaining)
        sleep(step)
        remaining -= step


class LocalBudget:
    """A per-process token bucket, for one-off commands when Redis is not reachable."""

    backend = "local"

    def __init__(
        self,
        points_per_minute: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.points_per_minute = float(points_per_minute)
        self._rate = self.points_per_minute / 60.0
        self._capacity = 1.0
        self._tokens = self._capacity
        self._clock = clock
        self._sleep = sleep
        self._stamp = clock()
        self._pause_until = 0.0
        self._lock = threading.Lock()

    def _take(self, points: int) -> float:
        with self._lock:
            now = self._clock()
            if self._pause_until > now:
                return self._pause_until - now
            self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            if self._tokens >= points:
                self._tokens -= points
                return 0.0
            return (points - self._tokens) / self._rate

    def acquire(self, points: int = 1, interrupt: Callable[[], bool] | None = None) -> float:
        """Block until ``points`` may be spent."""
        waited = 0.0
        while (wait := self._take(points)) > 0:
            waited += wait_unless_interrupted(self._sleep, wait, interrupt, "the rate budget")
        return waited

    def pause(self, seconds: float) -> None:
        """Hold every caller of this bucket for ``seconds``."""
        with self._lock:
            self._pause_until = max(self._pause_until, self._clock() + seconds)

    def available(self) -> float:
        """Tokens available now."""
        with self._lock:
            now = self._clock()
            return min(self._capacity, self._tokens + (now - self._stamp) * self._rate)


class RedisBudget:
    """A token bucket in Redis shared by every worker and command using the same organisation key."""

    backend = "redis"

    def __init__(
        self,
        connection: redis.Redis,
        key: str,
        points_per_minute: float,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.points_per_minute = float(points_per_minute)
        self._connection = connection
        self._bucket_key = f"insights:ratebudget:{key}:bucket"
        self._pause_key = f"insights:ratebudget:{key}:pause"
        self._used_prefix = f"insights:ratebudget:{key}:used"
        self._rate_per_ms = self.points_per_minute / 60_000.0
        self._take = connection.register_script(_TAKE_SCRIPT)
        self._pause = connection.register_script(_PAUSE_SCRIPT)
        self._sleep = sleep

    def acquire(self, points: int = 1, interrupt: Callable[[], bool] | None = None) -> float:
        """Block until ``points`` may be spent; the wait is computed in Redis, atomically."""
        waited = 0.0
        while True:
            wait_ms = int(
                self._take(
                    keys=[self._bucket_key, self._pause_key, self._used_prefix],
                    args=[self._rate_per_ms, 1, points],
                )
            )
            if wait_ms <= 0:
                return waited
            waited += wait_unless_interrupted(self._sleep, wait_ms / 1000.0, interrupt, "the rate budget")

    def pause(self, seconds: float) -> None:
        """Pause every process sharing this budget."""
        self._pause(keys=[self._pause_key], args=[max(1, int(seconds * 1000))])

    def available(self) -> float:
        """Tokens available now, refilled up to this moment (0 or 1: the bucket holds one)."""
        tokens, stamp = self._connection.hmget(self._bucket_key, "tokens", "ts")
        if tokens is None or stamp is None:
            return 1.0
        seconds, micros = self._connection.time()
        now_ms = seconds * 1000 + micros // 1000
        return min(1.0, float(tokens) + (now_ms - float(stamp)) * self._rate_per_ms)

    def used_per_minute(self) -> tuple[int, int]:
        """Points spent by every process in this clock minute and in the one before."""
        seconds, _micros = self._connection.time()
        minute = seconds // 60
        current, previous = self._connection.mget(
            f"{self._used_prefix}:{minute}", f"{self._used_prefix}:{minute - 1}"
        )
        return int(current or 0), int(previous or 0)


def budget_key(api_key: str | None, base_url: str) -> str:
    """A stable, non-reversible name for the organisation's bucket (the key itself never reaches Redis)."""
    digest = hashlib.sha256(f"{base_url}\0{api_key or ''}".encode()).hexdigest()
    return digest[:24]


_local_budgets: dict[tuple[str, float], LocalBudget] = {}
_local_lock = threading.Lock()


def _redis_connection() -> redis.Redis:
    """The budget's Redis client: RATE_REDIS_URL, else the queue's server; short timeouts, reused."""
    conf = get_settings()
    if conf.RATE_REDIS_URL:
        return url_redis(conf.RATE_REDIS_URL, 2.0)
    return queue_redis(conf.QUEUE, 2.0)


def get_budget(api_key: str | None = None, base_url: str | None = None) -> RateBudget:
    """The shared Redis budget, or a per-process one (with a warning) when Redis does not answer."""
    conf = get_settings()
    api_key = conf.API_KEY if api_key is None else api_key
    base_url = base_url or conf.BASE_URL
    key = budget_key(api_key, base_url)
    points = float(conf.RATE_BUDGET_POINTS_PER_MINUTE)
    try:
        connection = _redis_connection()
        connection.ping()
        return RedisBudget(connection, key, points)
    except (redis.RedisError, OSError) as exc:
        logger.warning(
            "Redis is not reachable (%s); this process keeps its own rate budget of %s points/minute",
            type(exc).__name__,
            points,
        )
    with _local_lock:
        return _local_budgets.setdefault((key, points), LocalBudget(points))


def budget_snapshot() -> dict[str, Any]:
    """What the sync dashboard shows about the budget."""
    conf = get_settings()
    budget = get_budget()
    used_now, used_before = budget.used_per_minute() if isinstance(budget, RedisBudget) else (None, None)
    return {
        "points_per_minute": conf.RATE_BUDGET_POINTS_PER_MINUTE,
        "plan_points_per_minute": conf.PLAN_POINTS_PER_MINUTE,
        "available": budget.available(),
        "used_this_minute": used_now,
        "used_last_minute": used_before,
        "backend": getattr(budget, "backend", "local"),
    }
