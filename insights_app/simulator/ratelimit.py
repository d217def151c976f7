"""The organisation's points budget (any limiter shape, the product beside us), reported as Whereby does."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate

from .background import ProductSpend
from .ledger import OURS, PRODUCT, Ledger
from .limiters import make_shape

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


class OrganisationLimiter:
    """The organisation's points budget: one limiter shape, shared by our calls and the product's.

    ``limit`` points per ``window_seconds`` in the shape ``limiter`` names (``limiters.LIMITERS``);
    None = unlimited (reported as ``UNLIMITED_REPORTED``, so clients never back off).
    ``background_points_per_minute`` models the customer's own product spending from the same budget, one point a call at the moments ``background_pattern`` gives; a call the
    budget cannot take is refused (counted in ``background_refused``: a broken video call). Every
    point charged goes into ``ledger`` with its moment and its caller.
    """

    def __init__(
        self,
        limit: int | None,
        window_seconds: float = 60.0,
        background_points_per_minute: float = 0.0,
        background_pattern: str = "random",
        seed: int = 0,
        limiter: str = "fixed",
    ) -> None:
        self._shape = make_shape(limiter, UNLIMITED_REPORTED if limit is None else limit, window_seconds)
        self.limiter = limiter
        self._limit = limit
        self.product = ProductSpend(background_points_per_minute, background_pattern, seed)
        self.ledger = Ledger()
        self.background_spent = 0
        self._lock = threading.Lock()
        self._background_stamp: float | None = None

    @property
    def limit(self) -> int | None:
        return self._limit

    @limit.setter
    def limit(self, value: int | None) -> None:
        with self._lock:
            self._limit = value
            self._shape.limit = UNLIMITED_REPORTED if value is None else value

    @property
    def window_seconds(self) -> float:
        return self._shape.window_seconds

    @window_seconds.setter
    def window_seconds(self, value: float) -> None:
        with self._lock:
            self._shape.window_seconds = value

    @property
    def background_points_per_minute(self) -> float:
        return self.product.points_per_minute

    @property
    def background_pattern(self) -> str:
        return self.product.pattern

    @property
    def background_refused(self) -> int:
        return self.ledger.refused[PRODUCT]

    def _spend_background(self, now: float) -> None:
        """The product's calls since the last look, each charged at its own moment."""
        start = now if self._background_stamp is None else self._background_stamp
        for moment in self.product.moments(start, now):
            if self._shape.try_spend(moment, 1) > 0:
                self.ledger.refuse(PRODUCT)
            else:
                self.ledger.record(moment, PRODUCT, 1)
                self.background_spent += 1
        self._background_stamp = now

    def _state(self, now: float, allowed: bool, wait: float) -> Decision:
        # A refusal's Reset is when the call would fit; otherwise when Remaining is full again.
        until = wait if not allowed else self._shape.full_in(now)
        limit = UNLIMITED_REPORTED if self._limit is None else self._limit
        return Decision(allowed, limit, self._shape.remaining(now), time.time() + until, wait)

    def charge(self, points: int = 1, caller: str = OURS) -> Decision:
        """Spend ``points`` if the budget allows; otherwise a refusal with the time until they fit."""
        with self._lock:
            now = time.monotonic()
            self._spend_background(now)
            wait = self._shape.try_spend(now, points)
            if wait > 0:
                self.ledger.refuse(caller)
                return self._state(now, False, wait)
            if points:
                self.ledger.record(now, caller, points)
            return self._state(now, True, 0.0)

    def peek(self) -> Decision:
        """The budget state without charging (for answers that cost nothing)."""
        with self._lock:
            now = time.monotonic()
            self._spend_background(now)
            return self._state(now, True, 0.0)


MIN_COST, MAX_COST = 1, 10  # Whereby's newer docs: a call costs 1 to 10 points by complexity
# What each endpoint costs when ``endpoint_costs`` does not say (Whereby: 1-10 points by complexity).
REALISTIC_COSTS = {
    "/insights/rooms": 3,
    "/insights/room-sessions": 2,
    "/insights/participants": 2,
    "/insights/participant": 1,
}


def check_costs(costs: dict[str, int]) -> dict[str, int]:
    """Endpoint costs as given, 1 to 10 points (Whereby's range); "rooms" is accepted for "/insights/rooms"."""
    checked = {}
    for path, cost in costs.items():
        if not isinstance(cost, int) or isinstance(cost, bool) or not MIN_COST <= cost <= MAX_COST:
            raise ValueError(
                f"the cost of {path} must be a whole number of points from {MIN_COST} to {MAX_COST}"
            )
        checked[path if path.startswith("/") else f"/insights/{path}"] = cost
    return checked
