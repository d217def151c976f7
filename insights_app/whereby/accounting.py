"""What the client spent (requests, points, throttles, retries, bytes, waits), and one call's time."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# What one call to an endpoint was charged, as far as the rate headers tell, and whether that is
# learned (else an estimate: the limiter or the cost is not known for good yet).
Price = Callable[[str], tuple[int, bool]]

UNCHARGED = (401, 429)  # answers the API does not charge: refused, throttled
_COUNTERS = ("requests", "reserved", "throttles", "retries", "bytes", "waited_seconds")


@dataclass
class ApiStats:
    """What the client spent: read by the sync to fill ``SyncRun``.

    ``reserved`` is what the rate budget counted against our share (the most a call may cost while
    its cost is not known); the points the API charged are not counted as they go but valued when
    read: each endpoint's calls at what a call of it cost by the latest reading of the headers
    (``price``), so calls counted before a cost was learned are valued at it once it is."""

    requests: int = 0
    reserved: int = 0
    throttles: int = 0
    retries: int = 0
    bytes: int = 0
    waited_seconds: float = 0.0
    unpriced: int = 0  # charged calls with no price to read (no budget): a point each
    calls: Counter[str] = field(default_factory=Counter)  # charged calls by endpoint
    price: Price | None = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **amounts: float) -> None:
        """Add to the counters atomically."""
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def charged_call(self, endpoint: str) -> None:
        """A call to ``endpoint`` the API charged (its points are valued when read)."""
        with self._lock:
            if self.price is None:
                self.unpriced += 1
            else:
                self.calls[endpoint] += 1

    def snapshot(self) -> dict[str, float]:
        """A plain copy of the counters (``points``, ``points_estimated``: valued now)."""
        return self.since({})

    def calls_now(self) -> dict[str, int]:
        """A copy of the charged calls by endpoint (to value a later span of calls against)."""
        with self._lock:
            return {**self.calls, "": self.unpriced}

    def since(
        self, calls_before: Mapping[str, int], before: Mapping[str, float] | None = None
    ) -> dict[str, float]:
        """The counters since ``before`` (a snapshot), the points of the calls since ``calls_before``
        (``calls_now``) valued at what a call costs by the latest headers: ``points``, and
        ``points_estimated`` of them valued at an estimate."""
        with self._lock:
            counters = {name: getattr(self, name) - (before or {}).get(name, 0) for name in _COUNTERS}
            calls = {e: n - calls_before.get(e, 0) for e, n in self.calls.items()}
            unpriced = self.unpriced - calls_before.get("", 0)
        points, estimated = unpriced, 0
        for endpoint, count in calls.items():
            if count and self.price is not None:
                cost, learned = self.price(endpoint)
                points += count * cost
                estimated += 0 if learned else count * cost
        return {**counters, "points": points, "points_estimated": estimated}

    @property
    def points(self) -> int:
        """The points the API charged for every call counted, as far as the headers tell now."""
        return int(self.snapshot()["points"])


class CallClock:
    """The time one call has spent on attempts and backoffs, against its total deadline."""

    __slots__ = ("_limit", "_spent")

    def __init__(self, limit: float) -> None:
        self._limit = limit
        self._spent = 0.0

    def add(self, seconds: float) -> None:
        """Count ``seconds`` more."""
        self._spent += seconds

    def total(self) -> float:
        """Seconds spent so far."""
        return self._spent

    def left(self) -> float:
        """Seconds left before the deadline (negative once it has passed)."""
        return self._limit - self._spent
