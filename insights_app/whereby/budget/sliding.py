"""Costs under a sliding window: read from falls of Remaining in a minute when none of ours aged out."""

from __future__ import annotations

import math
import statistics
import threading

from .readings import MAX_COST

# A run's first minute after a quiet one: none of our own points age out of the API's window, so a
# fall is the call's cost plus the product's new points minus its points of a minute ago (even, on
# average). A little under the minute, for the time between the API's clock and ours.
_CLEAN_SECONDS = 55.0
# Falls of an endpoint needed before its cost is estimated from them.
_MIN_SAMPLES = 5


class SlidingCosts:
    """What each endpoint costs under a sliding window, from the falls of calls sent alone while
    nothing of ours could age out: their mean, plus two standard errors (the product's points of a
    minute ago leave while its new ones arrive, so a single fall may be over or under the cost;
    rounded up that far, the estimate errs high when the falls are few or noisy)."""

    def __init__(self) -> None:
        self._clean_until: float | None = None  # end of the quiet start's minute (monotonic)
        self._previous: tuple[float, float] | None = None  # (answered, Remaining) of the last answer
        self._falls: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def start(self, now: float, quiet: bool) -> None:
        """The process's first answer: ``quiet`` when no point of ours was spent in the minute before."""
        with self._lock:
            if self._clean_until is None:
                self._clean_until = now + _CLEAN_SECONDS if quiet else 0.0

    @property
    def begun(self) -> bool:
        """Whether ``start`` was called."""
        return self._clean_until is not None

    def read_fall(self, endpoint: str, sent: float, answered: float, remaining: float, alone: bool) -> None:
        """One believable answer of ours."""
        with self._lock:
            previous, self._previous = self._previous, (answered, remaining)
            if self._clean_until is None or answered > self._clean_until or previous is None:
                return
            if alone and previous[0] <= sent:
                self._falls.setdefault(endpoint, []).append(previous[1] - remaining)

    def estimate(self, endpoint: str) -> int | None:
        """The estimate (None: too few falls)."""
        with self._lock:
            falls = self._falls.get(endpoint, [])
            if len(falls) < _MIN_SAMPLES:
                return None
            middle = statistics.median(falls)
            falls = [f for f in falls if abs(f - middle) <= 4 * MAX_COST]  # a Remaining that lied
            if len(falls) < _MIN_SAMPLES:
                return None
            error = statistics.stdev(falls) / math.sqrt(len(falls))
            return max(1, min(MAX_COST, round(statistics.fmean(falls) + 2 * error)))
