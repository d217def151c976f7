"""The shapes a "points per minute" limit may take: fixed window, sliding window, token bucket.

Whereby's docs say "points per minute" and no more (API_NOTES.md, "What the docs do not say"), so the
simulator offers each shape a real limiter could have. Each one is a plain object driven by the
caller's clock (``now`` in seconds, never decreasing); the caller serialises access.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Protocol

LIMITERS = ("fixed", "sliding", "bucket")
# Remaining is a whole number of points; a bucket's float refill must not read 99.9999999 as 99.
_EPSILON = 1e-9


class Shape(Protocol):
    """What every limiter shape answers; ``limit`` and ``window_seconds`` may change while it runs."""

    limit: int
    window_seconds: float

    def try_spend(self, now: float, points: int) -> float:
        """Spend ``points`` and answer 0.0, or spend nothing and answer the seconds until they would fit."""

    def remaining(self, now: float) -> int:
        """Points that could be spent right now."""

    def full_in(self, now: float) -> float:
        """Seconds until nothing spent so far counts any more (Remaining back at the limit)."""


class FixedWindow:
    """``limit`` points per window; a window opens at the first look after the previous one ended."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._start: float | None = None
        self._used = 0

    def _roll(self, now: float) -> float:
        if self._start is None or now >= self._start + self.window_seconds:
            self._start = now
            self._used = 0
        return self._start

    def try_spend(self, now: float, points: int) -> float:
        start = self._roll(now)
        if self._used + points > self.limit:
            return start + self.window_seconds - now
        self._used += points
        return 0.0

    def remaining(self, now: float) -> int:
        self._roll(now)
        return max(0, self.limit - self._used)

    def full_in(self, now: float) -> float:
        return self._roll(now) + self.window_seconds - now


class SlidingWindow:
    """At most ``limit`` points in any ``window_seconds``: each spend counts until it is that old."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._spends: deque[tuple[float, int]] = deque()
        self._total = 0

    def _expire(self, now: float) -> None:
        while self._spends and self._spends[0][0] + self.window_seconds <= now:
            self._total -= self._spends.popleft()[1]

    def try_spend(self, now: float, points: int) -> float:
        self._expire(now)
        if self._total + points <= self.limit:
            if points:
                self._spends.append((now, points))
                self._total += points
            return 0.0
        if points > self.limit:  # can never fit: say "a whole window", as the fixed window would
            return self.window_seconds
        excess = self._total + points - self.limit
        for moment, spent in self._spends:  # the oldest spends leave first
            excess -= spent
            if excess <= 0:
                return moment + self.window_seconds - now
        return self.window_seconds  # unreachable: the spends sum to the total

    def remaining(self, now: float) -> int:
        self._expire(now)
        return max(0, self.limit - self._total)

    def full_in(self, now: float) -> float:
        self._expire(now)
        return self._spends[-1][0] + self.window_seconds - now if self._spends else 0.0


class TokenBucket:
    """A bucket of ``limit`` points (full at the start) refilled at ``limit / window_seconds`` a second."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._tokens: float | None = None
        self._stamp = 0.0

    @property
    def _rate(self) -> float:
        return self.limit / self.window_seconds

    def _refill(self, now: float) -> float:
        if self._tokens is None:
            self._tokens = float(self.limit)
        else:
            self._tokens = min(float(self.limit), self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        return self._tokens

    def try_spend(self, now: float, points: int) -> float:
        tokens = self._refill(now)
        if tokens + _EPSILON >= points:
            self._tokens = max(0.0, tokens - points)
            return 0.0
        if points > self.limit:
            return self.window_seconds
        return (points - tokens) / self._rate

    def remaining(self, now: float) -> int:
        return max(0, math.floor(self._refill(now) + _EPSILON))

    def full_in(self, now: float) -> float:
        return max(0.0, (self.limit - self._refill(now)) / self._rate)


def make_shape(name: str, limit: int, window_seconds: float) -> Shape:
    """The limiter called ``name`` (one of ``LIMITERS``)."""
    shapes: dict[str, type[FixedWindow | SlidingWindow | TokenBucket]] = {
        "fixed": FixedWindow,
        "sliding": SlidingWindow,
        "bucket": TokenBucket,
    }
    if name not in shapes:
        raise ValueError(f"limiter must be one of {', '.join(LIMITERS)}, not {name!r}")
    return shapes[name](limit, window_seconds)
