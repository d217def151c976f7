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
        self._gaps: dict[str, list[float]] = {}  # the time between the two answers of each fall
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
                self._gaps.setdefault(endpoint, []).append(answered - previous[0])

    def estimate(self, endpoint: str) -> int | None:
        """The estimate (None: too few falls): the lower of the falls' mean and the cost the falls'
        regression on their gaps gives (``_regressed``), each plus two standard errors."""
        with self._lock:
            samples = self._believable()
            falls = [f for f, _gap in samples.get(endpoint, [])]
            if len(falls) < _MIN_SAMPLES:
                return None
            error = statistics.stdev(falls) / math.sqrt(len(falls))
            high = statistics.fmean(falls) + 2 * error
            regressed = _regressed(samples, endpoint)
            if regressed is not None:
                high = min(high, regressed)
            return max(1, min(MAX_COST, round(high)))

    def _believable(self) -> dict[str, list[tuple[float, float]]]:
        """Each endpoint's (fall, gap), without the falls of a Remaining that lied."""
        kept: dict[str, list[tuple[float, float]]] = {}
        for endpoint, falls in self._falls.items():
            middle = statistics.median(falls)
            kept[endpoint] = [
                (f, g)
                for f, g in zip(falls, self._gaps[endpoint], strict=True)
                if abs(f - middle) <= 4 * MAX_COST
            ]
        return kept


def _regressed(samples: dict[str, list[tuple[float, float]]], endpoint: str) -> float | None:
    """The cost of ``endpoint`` plus two standard errors, from ``fall = cost + rate x gap`` over every
    endpoint's falls (one rate: the product's points arriving while none of its own age out yet,
    which the mean folds into the cost: 2-5 points high in the first minute beside a busy product).
    Gaps alike leave the rate and the cost apart poorly: the error then grows, and the mean stands."""
    used = {e: s for e, s in samples.items() if len(s) >= 2}
    if endpoint not in used:
        return None
    means = {
        e: (statistics.fmean(f for f, _g in s), statistics.fmean(g for _f, g in s)) for e, s in used.items()
    }
    sxx = sum((g - means[e][1]) ** 2 for e, s in used.items() for _f, g in s)
    count = sum(len(s) for s in used.values())
    freedom = count - len(used) - 1
    if sxx <= 1e-9 or freedom < 3:
        return None
    sxy = sum((g - means[e][1]) * (f - means[e][0]) for e, s in used.items() for f, g in s)
    rate = sxy / sxx
    residuals = sum(
        (f - (means[e][0] - rate * means[e][1]) - rate * g) ** 2 for e, s in used.items() for f, g in s
    )
    variance = residuals / freedom
    fall_mean, gap_mean = means[endpoint]
    cost = fall_mean - rate * gap_mean
    error = math.sqrt(variance * (1 / len(used[endpoint]) + gap_mean**2 / sxx))
    return cost + 2 * error
