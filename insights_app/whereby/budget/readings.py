"""The rate headers checked: the plan as a robust median, each endpoint's proven cost ceiling, and
what was rejected (a Limit of 1 or of 10^18, a Remaining above the Limit) with the reason."""

from __future__ import annotations

import bisect
import math
import statistics
import threading
from collections import deque

MAX_COST = 10  # Whereby: a call costs 1-10 points by complexity
# A plan outside these bounds is no plan: Whereby's run from 100 to a few thousand points a minute.
PLAN_BOUNDS = (10.0, 10_000_000.0)
# The plan is the median of this many readings of X-RateLimit-Limit: one answer cannot move it.
_PLAN_READINGS = 15
# An answer whose Limit is this far from the plan (a factor) is not used for costs or the shape.
_PLAN_TOLERANCE = 1.5
# The smallest ceilings kept per endpoint, and the share of answers that may lie without harm.
_CEILINGS_KEPT = 32
_LIARS_TOLERATED = 0.05


class Readings:
    """The headers of our answers, checked before anything learns from them.

    ``Limit - Remaining`` after a charged call is at least that call's cost under every limiter: a
    fixed or a sliding window has lost at least this call's points, and a bucket held at most Limit
    before it. So each answer proves a ceiling on its endpoint's cost, whatever the limiter; the
    ceiling used is a low order statistic of them (the k-th smallest, k growing with the answers), so a
    few lying answers cannot pull it below the truth.
    """

    def __init__(self) -> None:
        self._limits: deque[float] = deque(maxlen=_PLAN_READINGS)
        self._ceilings: dict[str, list[float]] = {}
        self._answers: dict[str, int] = {}
        self.rejected: deque[str] = deque(maxlen=8)  # the last reasons, newest last
        self.rejected_count = 0
        self._recent: deque[float] = deque(maxlen=3)  # the last believable Remaining readings
        self._lock = threading.Lock()

    def plan(self) -> float | None:
        """The median Limit of the last answers within bounds (None before the first)."""
        with self._lock:
            return statistics.median(self._limits) if self._limits else None

    def _reject(self, reason: str) -> None:
        self.rejected.append(reason)
        self.rejected_count += 1

    def check(
        self, endpoint: str, limit: float | None, remaining: float | None
    ) -> tuple[float, float] | None:
        """(plan, Remaining) when the answer's headers are believable, else None (and the reason kept)."""
        if limit is None or remaining is None:
            return None
        with self._lock:
            if not PLAN_BOUNDS[0] <= limit <= PLAN_BOUNDS[1]:
                self._reject(f"Limit {limit:g} (outside {PLAN_BOUNDS[0]:g} to {PLAN_BOUNDS[1]:g})")
                return None
            self._limits.append(limit)
            plan = statistics.median(self._limits)
            if not plan / _PLAN_TOLERANCE <= limit <= plan * _PLAN_TOLERANCE:
                self._reject(f"Limit {limit:g} (the plan reads {plan:g})")
                return None
            if remaining > limit:
                self._reject(f"Remaining {remaining:g} above Limit {limit:g}")
                return None
            self._recent.append(remaining)
            ceiling = limit - remaining
            if ceiling < 1:
                self._reject(f"Remaining {remaining:g} of {limit:g} after a charged call")
                return None
            kept = self._ceilings.setdefault(endpoint, [])
            bisect.insort(kept, ceiling)
            del kept[_CEILINGS_KEPT:]
            self._answers[endpoint] = self._answers.get(endpoint, 0) + 1
            return plan, remaining

    def running_low(self, low: float) -> bool:
        """Whether Remaining is at or below ``low``: by the second lowest of the last three readings
        (one answer lying low, a Remaining of 0, does not stop every process until the reset)."""
        with self._lock:
            recent = sorted(self._recent)
            return bool(recent) and recent[min(1, len(recent) - 1)] <= low

    def ceiling(self, endpoint: str) -> int | None:
        """The most a call to ``endpoint`` can cost by what its answers proved (None: under two answers)."""
        with self._lock:
            kept = self._ceilings.get(endpoint, [])
            answers = self._answers.get(endpoint, 0)
            if answers < 2:
                return None
            k = min(len(kept), max(2, 1 + math.ceil(answers * _LIARS_TOLERATED)))
            return max(1, min(MAX_COST, math.floor(kept[k - 1] + 1e-9)))

    def least_ceiling(self, endpoint: str) -> int | None:
        """The smallest ceiling any answer of ``endpoint`` gave (None: no answer), one answer being
        enough: for an estimate of what a call cost, not for what a call reserves."""
        with self._lock:
            kept = self._ceilings.get(endpoint)
            return max(1, min(MAX_COST, math.floor(kept[0] + 1e-9))) if kept else None

    def ceilings(self) -> dict[str, int]:
        """Every endpoint's ceiling known so far."""
        return {e: c for e in list(self._answers) if (c := self.ceiling(e)) is not None}
