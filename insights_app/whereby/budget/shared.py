"""The rate budget in Redis: our share of the organisation's Whereby points, shared by every process.

Every worker and command draws from one budget in Redis (docs/budget.md): the plan and our share
come from ``figures``, each endpoint's cost from ``costs``; a token bucket holding a second of
the budget paces the calls, a log of the last minute's spends keeps every rolling minute within it;
a 429 or a low ``X-RateLimit-Remaining`` sets a shared pause that every process honours.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

from ..rate_headers import number
from ..wait_hints import wait_unless_interrupted
from .learning import Knowledge, Learning
from .limiter_shape import FIXED, SHAPES
from .scripts import PAUSE_SCRIPT, REFUND_SCRIPT, SETTLE_SCRIPT, SPENT_SCRIPT, TAKE_SCRIPT, WINDOW_MS

_PLAN_TTL_SECONDS = 7 * 86_400  # what the API said about the plan and the costs, kept a week
_LEARNED_CACHE_SECONDS = 2.0  # how stale this process's copy of them may be
# A large budget is taken from Redis this many seconds' worth at a time, not one round trip per call.
RESERVE_SECONDS = 0.1
_SHAPE_FIELD = "_limiter"  # in the shared costs hash: the limiter they were learned under

_books: dict[str, Knowledge] = {}
_books_lock = threading.Lock()


class RedisBudget(Learning):
    """A budget in Redis shared by every worker and command using the same organisation key."""

    backend = "redis"

    def __init__(
        self,
        connection: redis.Redis,
        key: str,
        points_per_minute: float | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.fixed_points = None if points_per_minute is None else float(points_per_minute)
        self._connection = connection
        prefix = f"insights:ratebudget:{key}"
        self._bucket_key = f"{prefix}:bucket"
        self._pause_key = f"{prefix}:pause"
        self._used_prefix = f"{prefix}:used"
        self._log_key = f"{prefix}:log"
        self._plan_key = f"{prefix}:plan"
        self._costs_key = f"{prefix}:costs"
        self._take = connection.register_script(TAKE_SCRIPT)
        self._settle = connection.register_script(SETTLE_SCRIPT)
        self._refund = connection.register_script(REFUND_SCRIPT)
        self._spent = connection.register_script(SPENT_SCRIPT)
        self._pause = connection.register_script(PAUSE_SCRIPT)
        self._sleep = sleep
        self._plan_cache: tuple[float, float | None] = (-1e9, None)
        self._shared_view: dict[str, int | str] = {}
        self._prepaid = 0  # points reserved in Redis and not spent yet (by this process)
        self._prepaid_stamp = 0.0  # when they were reserved (Redis ms): where a refund goes
        self._batched = False  # whether they were a batch for many calls (a refund then goes back to it)
        self._prepaid_lock = threading.Lock()
        self._grants = threading.local()
        # One cost book per organisation and process: consecutive syncs in a worker pair their calls.
        with _books_lock:
            self._know(_books.setdefault(key, Knowledge()))
        self._adopt_shared()
        self._costs_read = time.monotonic()

    def _learned_plan(self) -> float | None:
        stamp, plan = self._plan_cache
        if time.monotonic() - stamp < _LEARNED_CACHE_SECONDS:
            return plan
        value = self._connection.get(self._plan_key)
        plan = number(as_text(value)) if value else None
        self._plan_cache = (time.monotonic(), plan)
        if time.monotonic() - self._costs_read > _LEARNED_CACHE_SECONDS:
            self._costs_read = time.monotonic()
            self._adopt_shared()
        return plan

    def _store_plan(self, plan: float) -> None:
        self._connection.set(
            self._plan_key, str(int(plan) if plan == int(plan) else plan), ex=_PLAN_TTL_SECONDS
        )
        self._plan_cache = (time.monotonic(), plan)

    def _adopt_shared(self) -> None:
        """Read what other processes found; a fixed window's costs join this process's cost book."""
        shared = self.shared_costs()
        if self._shared_shape() == FIXED:
            self.costs.adopt(shared)

    def _shared_shape(self) -> str | None:
        # The copy read at most _LEARNED_CACHE_SECONDS ago: no Redis round trip per call.
        shape = self._shared_view.get(_SHAPE_FIELD)
        return shape if isinstance(shape, str) and shape in SHAPES else None

    def _shared_cost_for(self, endpoint: str, shape: str) -> int | None:
        cost = self._shared_view.get(endpoint)
        return cost if isinstance(cost, int) and self._shared_shape() == shape else None

    def _share_costs(self) -> None:
        """Share the limiter this process found and the costs under it; again when Redis lost them."""
        shape = self.watch.shape
        if shape not in SHAPES:
            return
        update: dict[str, str | int] = {}
        if self._shared_view.get(_SHAPE_FIELD) != shape:
            update[_SHAPE_FIELD] = shape
        for endpoint, (cost, source) in self.cost_sources().items():
            if source == "learned" and self._shared_view.get(endpoint) != cost:
                update[endpoint] = cost
        if update:
            self._connection.hset(self._costs_key, mapping=dict[Any, Any](update))
            self._connection.expire(self._costs_key, _PLAN_TTL_SECONDS)
            self._shared_view.update(update)

    def shared_costs(self) -> dict[str, int]:
        """Costs learned by any process (under the limiter ``_shared_shape`` names)."""
        raw = {as_text(k): as_text(v) for k, v in self._connection.hgetall(self._costs_key).items()}
        self._shared_view = {k: (int(v) if v.isdigit() else v) for k, v in raw.items()}
        return {k: v for k, v in self._shared_view.items() if isinstance(v, int)}

    def acquire(
        self, points: int = 1, interrupt: Callable[[], bool] | None = None, unpaced: bool = False
    ) -> float:
        """Block until ``points`` may be spent; the wait is computed in Redis, atomically.

        When the budget allows more than a call every RESERVE_SECONDS, that much is reserved at once
        and spent from this process's reserve: one Redis round trip for many calls.
        """
        waited = 0.0
        while True:
            budget = self.figures().budget
            cost = max(1, min(int(points), int(budget)))
            with self._prepaid_lock:
                if self._prepaid >= cost:
                    self._prepaid -= cost
                    self._granted(cost, self._prepaid_stamp)
                    return waited
            batch = max(cost, int(budget / 60.0 * RESERVE_SECONDS))
            wait_ms, stamp = (
                int(value)
                for value in self._take(
                    keys=[self._bucket_key, self._pause_key, self._used_prefix, self._log_key],
                    args=[
                        budget / 60_000.0,
                        max(self._capacity(1), batch if batch > cost else 0),
                        batch,
                        budget,
                        WINDOW_MS,
                        secrets.token_hex(4),
                        "1" if unpaced else "0",
                        self._call_worth(),
                    ],
                )
            )
            if wait_ms <= 0:
                with self._prepaid_lock:
                    self._prepaid += batch - cost
                    self._prepaid_stamp = stamp
                    self._batched = batch > cost
                self._granted(cost, stamp)
                return waited
            waited += wait_unless_interrupted(self._sleep, wait_ms / 1000.0, interrupt, "the rate budget")

    def settle(self, points: int) -> None:
        """Charge points already spent, for every process."""
        self._settle(
            keys=[self._bucket_key, self._pause_key, self._used_prefix, self._log_key],
            args=[int(points), WINDOW_MS, secrets.token_hex(4)],
        )

    def refund(self, points: int, stamp: float) -> None:
        """Give back points reserved (at ``stamp``, Redis ms) and not spent, for every process; points
        of this process's current batch go back to it (spent by its next calls, no round trip)."""
        with self._prepaid_lock:
            if self._batched and stamp == self._prepaid_stamp:
                self._prepaid += points
                return
        self._refund(
            keys=[self._bucket_key, self._pause_key, self._used_prefix, self._log_key],
            args=[int(points), int(stamp), WINDOW_MS, secrets.token_hex(4), self._capacity(1)],
        )

    def pause(self, seconds: float) -> None:
        """Pause every process sharing this budget."""
        with self._prepaid_lock:
            self._prepaid = 0  # what this process reserved is not spent during the pause
            self._batched = False  # nor what a call of it refunds afterwards
        self._pause(keys=[self._pause_key], args=[max(1, int(seconds * 1000))])

    def available(self) -> float:
        """Tokens available now, refilled up to this moment (at most BURST_SECONDS' worth)."""
        capacity = self._capacity(1)
        tokens, stamp = self._connection.hmget(self._bucket_key, "tokens", "ts")
        if tokens is None or stamp is None:
            return min(capacity, self._call_worth())
        seconds, micros = self._connection.time()
        now_ms = seconds * 1000 + micros // 1000
        return min(capacity, float(tokens) + (now_ms - float(stamp)) * self.figures().budget / 60_000.0)

    def used_per_minute(self) -> tuple[int, int]:
        """Points spent by every process in this clock minute and in the one before."""
        seconds, _micros = self._connection.time()
        minute = seconds // 60
        current, previous = self._connection.mget(
            f"{self._used_prefix}:{minute}", f"{self._used_prefix}:{minute - 1}"
        )
        return int(current or 0), int(previous or 0)

    def spent_last_minute(self) -> int:
        """Points every process spent in the last 60 seconds."""
        return int(self._spent(keys=[self._log_key], args=[60_000]))


def budget_key(api_key: str | None, base_url: str) -> str:
    """A stable, non-reversible name for the organisation's bucket (the key itself never reaches Redis)."""
    digest = hashlib.sha256(f"{base_url}\0{api_key or ''}".encode()).hexdigest()
    return digest[:24]


def as_text(value: bytes | str) -> str:
    """A Redis reply as text (bytes unless the client decodes responses)."""
    return value.decode() if isinstance(value, bytes) else value
