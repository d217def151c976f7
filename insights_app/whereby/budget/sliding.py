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
# Of the falls between the two answers of a pair (two calls of one endpoint sent together): the one
# taken, as a share of them in order. A few milliseconds apart, a pair's fall is its cost, now and
# then a point more (the product's call between them) or less (one of a minute ago aging out
# between them): the upper quartile stands above the points that age out of a product in bursts.
_PAIR_QUANTILE = 0.75
# Once the window is named, an endpoint without an estimate from pairs sends its calls in pairs
# (``wants_pairs``) for at most this many of its answers: pairs are read at any time (a few
# milliseconds apart, our own points of a minute ago seldom age out between them), falls of calls one
# after the other only in the quiet start, where a product spending in bursts or at random lifts
# them (10 for a true 7). An endpoint whose calls never come two at a time (a listing's pages) stops
# trying.
_PAIR_ANSWERS = 100
_PAIRS_KEPT = 200


class SlidingCosts:
    """What each endpoint costs under a sliding window, from the falls of calls sent alone while
    nothing of ours could age out: their mean, plus two standard errors (the product's points of a
    minute ago leave while its new ones arrive, so a single fall may be over or under the cost;
    rounded up that far, the estimate errs high when the falls are few or noisy)."""

    def __init__(self) -> None:
        self._clean_until: float | None = None  # end of the quiet start's minute (monotonic)
        # (answered, Remaining, endpoint, sent) of the last answer
        self._previous: tuple[float, float, str, float] | None = None
        self._falls: dict[str, list[float]] = {}
        self._gaps: dict[str, list[float]] = {}  # the time between the two answers of each fall
        self._pairs: dict[str, list[float]] = {}  # falls between the two answers of a pair
        self._tried: dict[str, int] = {}  # answers since the window was named, by endpoint
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
            previous, self._previous = self._previous, (answered, remaining, endpoint, sent)
            if self._clean_until is None or previous is None:
                return
            if alone and previous[0] > sent and previous[2] == endpoint:
                # Both calls in flight at once, nothing else of ours: whichever the API charged last
                # (it answers either way round), the fall is one call of this endpoint.
                pairs = self._pairs.setdefault(endpoint, [])
                pairs.append(abs(previous[1] - remaining))
                del pairs[:-_PAIRS_KEPT]
            elif alone and previous[0] <= sent and answered <= self._clean_until:
                self._falls.setdefault(endpoint, []).append(previous[1] - remaining)
                self._gaps.setdefault(endpoint, []).append(answered - previous[0])

    def tried(self, endpoint: str) -> None:
        """An answer of ``endpoint`` came while the window was known to be sliding."""
        with self._lock:
            self._tried[endpoint] = self._tried.get(endpoint, 0) + 1

    def wants_pairs(self, endpoint: str) -> bool:
        """Whether ``endpoint``'s calls should go two at a time, alone: too few pairs read for an
        estimate of their own (the quiet start's falls may have given one, high beside a busy product),
        and not yet ``_PAIR_ANSWERS`` answers tried."""
        with self._lock:
            return (
                len(self._pairs.get(endpoint, [])) < _MIN_SAMPLES
                and self._tried.get(endpoint, 0) < _PAIR_ANSWERS
            )

    def estimate(self, endpoint: str) -> int | None:
        """The estimate (None: too few falls): the lowest of the falls' mean and the cost the falls'
        regression on their gaps gives (``_regressed``), each plus two standard errors, and the
        upper quartile of the falls within pairs (``_PAIR_QUANTILE``)."""
        with self._lock:
            samples = self._believable()
            falls = [f for f, _gap in samples.get(endpoint, [])]
            highs = []
            if len(falls) >= _MIN_SAMPLES:
                error = statistics.stdev(falls) / math.sqrt(len(falls))
                highs.append(statistics.fmean(falls) + 2 * error)
                regressed = _regressed(samples, endpoint)
                if regressed is not None:
                    highs.append(regressed)
            pairs = sorted(self._pairs.get(endpoint, []))
            if len(pairs) >= _MIN_SAMPLES:
                highs.append(pairs[math.ceil(_PAIR_QUANTILE * len(pairs)) - 1])
            return max(1, min(MAX_COST, round(min(highs)))) if highs else None

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
