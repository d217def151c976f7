"""A per-process rate budget, for one-off commands when Redis is not reachable."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from ..wait_hints import wait_unless_interrupted
from .learning import Knowledge, Learning
from .scripts import WINDOW_MS


class LocalBudget(Learning):
    """A per-process budget, for one-off commands when Redis is not reachable."""

    backend = "local"

    def __init__(
        self,
        points_per_minute: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.fixed_points = None if points_per_minute is None else float(points_per_minute)
        self._know(Knowledge())
        self._plan: float | None = None
        self._tokens: float | None = None
        self._clock = clock
        self._sleep = sleep
        self._stamp = clock()
        self._pause_until = 0.0
        self._log: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()
        self._grants = threading.local()

    def _learned_plan(self) -> float | None:
        return self._plan

    def _store_plan(self, plan: float) -> None:
        self._plan = plan

    def _take(self, points: int, unpaced: bool = False) -> tuple[float, float]:
        """Take ``points`` now (0.0, the instant) or say how long to wait (seconds, now)."""
        budget = self.figures().budget
        rate = budget / 60.0
        capacity = self._capacity(1)
        need = min(points, capacity)  # a reservation dearer than the bucket leaves it in debt
        if unpaced:  # a call that learns a cost: only the minute's log holds it (see ratescripts)
            need = -math.inf
        with self._lock:
            now = self._clock()
            if self._pause_until > now:
                return self._pause_until - now, now
            window = WINDOW_MS / 1000.0
            while self._log and self._log[0][0] <= now - window:
                self._log.popleft()
            spent = sum(p for _t, p in self._log)
            if spent + points > budget and self._log:
                freed = 0
                for moment, spend in self._log:
                    freed += spend
                    if spent - freed + points <= budget:
                        return max(0.001, moment + window - now), now
            tokens = self._call_worth() if self._tokens is None else self._tokens
            tokens = min(capacity, tokens + (now - self._stamp) * rate)
            self._stamp = now
            if tokens >= need - 1e-9:  # refills are float sums: allow for their rounding
                self._tokens = tokens - points
                self._log.append((now, points))
                return 0.0, now
            self._tokens = tokens
            return max(0.001, (need - max(tokens, 0.0)) / rate), now  # in debt: a refund may come

    def acquire(
        self, points: int = 1, interrupt: Callable[[], bool] | None = None, unpaced: bool = False
    ) -> float:
        """Block until ``points`` may be spent."""
        points = max(1, min(int(points), int(self.figures().budget)))
        waited = 0.0
        while True:
            wait, stamp = self._take(points, unpaced)
            if wait <= 0:
                self._granted(points, stamp)
                return waited
            waited += wait_unless_interrupted(self._sleep, wait, interrupt, "the rate budget")

    def settle(self, points: int) -> None:
        """Charge points already spent."""
        with self._lock:
            self._tokens = (self._tokens or 0.0) - points
            self._log.append((self._clock(), points))

    def refund(self, points: int, stamp: float) -> None:
        """Give back points reserved at ``stamp`` and not spent (the bucket's debt is repaid at once)."""
        with self._lock:
            if self._tokens is not None:
                self._tokens = max(self._tokens, min(self._capacity(1), self._tokens + points))
            if stamp <= self._clock() - WINDOW_MS / 1000.0:
                return
            index = len(self._log)
            while index > 0 and self._log[index - 1][0] > stamp:
                index -= 1
            self._log.insert(index, (stamp, -points))

    def pause(self, seconds: float) -> None:
        """Hold every caller of this bucket for ``seconds``."""
        with self._lock:
            self._pause_until = max(self._pause_until, self._clock() + seconds)

    def available(self) -> float:
        """Tokens available now."""
        rate = self.figures().budget / 60.0
        with self._lock:
            tokens = self._call_worth() if self._tokens is None else self._tokens
            return min(self._capacity(1), tokens + (self._clock() - self._stamp) * rate)

    def spent_last_minute(self) -> int:
        """Points this process spent in the last minute."""
        with self._lock:
            now = self._clock()
            return sum(p for t, p in self._log if t > now - 60)
