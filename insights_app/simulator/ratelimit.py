"""A per-organisation points budget in fixed windows, reported the way Whereby reports it."""

from __future__ import annotations

import math
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


class FixedWindowLimiter:
    """``limit`` points per ``window_seconds``; the window opens at the first charged request."""

    def __init__(self, limit: int | None, window_seconds: float = 60.0) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._lock = threading.Lock()
        self._window_start: float | None = None
        self._used = 0

    def _roll(self, now: float) -> None:
        """Open a new window when the current one has passed."""
        if self._window_start is None or now >= self._window_start + self.window_seconds:
            self._window_start = now
            self._used = 0

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
