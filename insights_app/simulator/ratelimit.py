"""A per-organisation points budget in fixed windows, reported the way Whereby reports it."""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate

# Reported as the limit when the simulator does not limit at all, so clients never back off.
UNLIMITED_REPORTED = 1_000_000


@dataclass(frozen=True)
class Decision:
    """The outcome of charging one request."""

    allowed: bool
    limit: int
    remaining: int
    reset_epoch: float
    wait_seconds: float

    def headers(self) -> dict[str, str]:
        """X-RateLimit-Limit, -Remaining and -Reset (an HTTP date)."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": formatdate(math.ceil(self.reset_epoch), usegmt=True),
        }


BACKGROUND_PATTERNS = ("random", "even")


class FixedWindowLimiter:
    """``limit`` points per ``window_seconds``; the window opens at the first charged request.

    ``background_points_per_minute`` models the customer's own product spending from the same
    budget: one point at a time, refused (and counted in ``background_refused``) when the window is
    spent. ``background_pattern`` "random" spaces the points as independent users' calls arrive (a
    Poisson process, seeded); "even" spaces them exactly alike.
    """

    def __init__(
        self,
        limit: int | None,
        window_seconds: float = 60.0,
        background_points_per_minute: float = 0.0,
        background_pattern: str = "random",
        seed: int = 0,
    ) -> None:
        if background_pattern not in BACKGROUND_PATTERNS:
            raise ValueError(f"background_pattern must be one of {', '.join(BACKGROUND_PATTERNS)}")
        self.limit = limit
        self.window_seconds = window_seconds
        self.background_points_per_minute = background_points_per_minute
        self.background_pattern = background_pattern
        self._random = random.Random(seed)
        self._background_next: float | None = None
        self.background_spent = 0
        self.background_refused = 0
        self._lock = threading.Lock()
        self._window_start: float | None = None
        self._used = 0
        self._background_due = 0.0
        self._background_stamp: float | None = None

    def _roll(self, now: float) -> None:
        """Open a new window when the current one has passed; let the product spend meanwhile."""
        self._spend_background(now)
        if self._window_start is None or now >= self._window_start + self.window_seconds:
            self._window_start = now
            self._used = 0

    def _spend_background(self, now: float) -> None:
        """The product's calls since the last look, each charged in the window it fell in."""
        rate = self.background_points_per_minute / 60.0
        if self._background_stamp is None or rate <= 0:
            self._background_stamp = now
            return
        start = self._background_stamp
        for moment in self._background_moments(start, now, rate):
            if self._window_start is None or moment >= self._window_start + self.window_seconds:
                self._window_start = moment
                self._used = 0
            if self.limit is not None and self._used + 1 > self.limit:
                self.background_refused += 1
            else:
                self._used += 1
                self.background_spent += 1
        self._background_stamp = now

    def _background_moments(self, start: float, now: float, rate: float) -> list[float]:
        """When the product's calls fell between ``start`` and ``now``."""
        if self.background_pattern == "even":
            self._background_due += (now - start) * rate
            calls = int(self._background_due)
            self._background_due -= calls
            return [start + (index + 1) * (now - start) / calls for index in range(calls)]
        if self._background_next is None:
            self._background_next = start + self._random.expovariate(rate)
        moments = []
        while self._background_next <= now:
            moments.append(self._background_next)
            self._background_next += self._random.expovariate(rate)
        return moments

    def charge(self, points: int = 1) -> Decision:
        """Spend ``points`` if the budget allows; otherwise a refusal with the time left."""
        with self._lock:
            now = time.monotonic()
            self._roll(now)
            assert self._window_start is not None
            left = self._window_start + self.window_seconds - now
            reset_epoch = time.time() + left
            limit = UNLIMITED_REPORTED if self.limit is None else self.limit
            if self.limit is not None and self._used + points > self.limit:
                return Decision(False, limit, max(0, limit - self._used), reset_epoch, left)
            self._used += points
            return Decision(True, limit, max(0, limit - self._used), reset_epoch, 0.0)

    def peek(self) -> Decision:
        """The budget state without charging (for responses that cost nothing)."""
        with self._lock:
            now = time.monotonic()
            self._roll(now)
            assert self._window_start is not None
            left = self._window_start + self.window_seconds - now
            limit = UNLIMITED_REPORTED if self.limit is None else self.limit
            return Decision(True, limit, max(0, limit - self._used), time.time() + left, 0.0)


# What each endpoint costs when ``endpoint_costs`` does not say (Whereby: 1-10 points by complexity).
REALISTIC_COSTS = {
    "/insights/rooms": 3,
    "/insights/room-sessions": 2,
    "/insights/participants": 2,
    "/insights/participant": 1,
}


def check_costs(costs: dict[str, int]) -> dict[str, int]:
    """Endpoint costs as given, refusing non-positive ones; "rooms" is accepted for "/insights/rooms"."""
    checked = {}
    for path, cost in costs.items():
        if not isinstance(cost, int) or isinstance(cost, bool) or cost < 1:
            raise ValueError(f"the cost of {path} must be a whole number of points >= 1")
        checked[path if path.startswith("/") else f"/insights/{path}"] = cost
    return checked
