"""When the customer's own product spends from the organisation's budget: evenly, at random, in bursts."""

from __future__ import annotations

import random
from collections import deque

BACKGROUND_PATTERNS = ("random", "even", "bursty")
# Bursty: bursts arrive at random, on average every BURST_GAP_SECONDS, each holding about that
# many seconds' worth of the mean rate, squeezed into BURST_SECONDS (a batch job, a class starting).
BURST_GAP_SECONDS = 15.0
BURST_SECONDS = 2.0


class ProductSpend:
    """The moments (one point each) at which the product calls, at ``points_per_minute`` on average.

    "even" spaces the calls exactly alike, on one grid from the first look, whoever looks when (placed
    within each interval between looks, a call fell on every look: on the arrival of every call of
    ours); "random" is a Poisson process (independent users); "bursty" sends them in bursts of 0.5x to
    1.5x ``BURST_GAP_SECONDS`` of the mean rate within ``BURST_SECONDS``, the bursts themselves
    arriving as a Poisson process. Seeded: the same seed gives the same moments.
    """

    def __init__(self, points_per_minute: float, pattern: str = "random", seed: int = 0) -> None:
        if pattern not in BACKGROUND_PATTERNS:
            raise ValueError(f"background_pattern must be one of {', '.join(BACKGROUND_PATTERNS)}")
        if points_per_minute < 0:
            raise ValueError("background_points_per_minute must be >= 0")
        self.points_per_minute = points_per_minute
        self.pattern = pattern
        self._random = random.Random(seed)
        self._next: float | None = None  # "even" and "random": the next call; "bursty": the next burst
        self._pending: deque[float] = deque()  # "bursty": calls of bursts already begun

    def moments(self, start: float, end: float) -> list[float]:
        """When the product's calls fell in ``(start, end]``, in order; ``start`` never goes back."""
        rate = self.points_per_minute / 60.0
        if rate <= 0 or end <= start:
            return []
        if self.pattern == "bursty":
            return self._bursts(start, end, rate)
        if self._next is None:
            self._next = start + self._gap(rate)
        found = []
        while self._next <= end:
            found.append(self._next)
            self._next += self._gap(rate)
        return found

    def _gap(self, rate: float) -> float:
        """Seconds to the product's next call: always alike ("even"), else exponential ("random")."""
        return 1 / rate if self.pattern == "even" else self._random.expovariate(rate)

    def _bursts(self, start: float, end: float, rate: float) -> list[float]:
        if self._next is None:
            self._next = start + self._random.expovariate(1 / BURST_GAP_SECONDS)
        began = False
        while self._next <= end:
            size = max(1, round(rate * BURST_GAP_SECONDS * self._random.uniform(0.5, 1.5)))
            self._pending.extend(self._next + index * BURST_SECONDS / size for index in range(size))
            self._next += self._random.expovariate(1 / BURST_GAP_SECONDS)
            began = True
        if began:  # bursts may overlap: their calls interleave, so keep them in time order
            self._pending = deque(sorted(self._pending))
        found = []
        while self._pending and self._pending[0] <= end:
            found.append(self._pending.popleft())
        return found
