"""What each endpoint costs, learned from how X-RateLimit-Remaining falls between our calls."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping, Sequence

from ..rate_headers import RateHeaders

MAX_COST = 10  # Whereby: a call costs 1-10 points by complexity
_COST_SAMPLES = 60
# Calls of an endpoint sent alone before its cost counts as learned (one fall may hold others' spend).
LEARN_SAMPLES = 5
# ... and at most this many: then the smallest fall stands (high, never low).
MAX_LEARN_SAMPLES = 30


class CostBook:
    """What each endpoint costs, learned from ``X-RateLimit-Remaining`` across consecutive calls.

    Between two answers in the same rate window, Remaining falls by the second call's cost plus
    whatever anyone else spent meanwhile (the customer's product, other workers): ``fall = cost +
    others``, where ``others`` grows with the time between the answers. With the last
    ``_COST_SAMPLES`` falls we estimate both: the whole-number costs (never above an endpoint's
    smallest fall, within 1..10) and the others' rate that make the falls most likely, with the others'
    points arriving at random. Only pairs of calls with nothing else of ours in flight, the same limit
    and the same reset instant count.
    """

    def __init__(self, shared: Mapping[str, int] | None = None) -> None:
        self._samples: deque[tuple[str, float, float]] = deque(maxlen=_COST_SAMPLES)
        self._learned: dict[str, int] = dict(shared or {})
        self._measured: set[str] = set()
        self._taken: Counter[str] = Counter()  # samples each endpoint gave
        self._least_fall: dict[str, float] = {}
        self._least_seen: Counter[str] = Counter()  # falls equal to the smallest
        self._unpriced: set[str] = set()  # answered without the headers: nothing to learn from
        self._last: tuple[float, float, str, float] | None = None  # (limit, remaining, reset, time)
        self._last_shared = False  # the last answer came with another call of ours in flight
        self._in_flight = 0
        self.others_per_second = 0.0
        self._lock = threading.Lock()

    def estimate(self, endpoint: str) -> int | None:
        """The learned cost of ``endpoint``, or None when not learned yet. While it still rests on fewer
        than LEARN_SAMPLES falls, the smallest fall seen (never below the true cost: a fall is the cost
        plus what others spent) when that is more: an early estimate must not under-reserve."""
        with self._lock:
            learned = self._learned.get(endpoint)
            if learned is not None and endpoint in self._least_fall and self._taken[endpoint] < LEARN_SAMPLES:
                return min(MAX_COST, max(learned, math.ceil(self._least_fall[endpoint])))
            return learned

    def needs_falls(self, endpoint: str) -> bool:
        """Whether ``endpoint``'s cost is still to be learned (its calls are then sent alone)."""
        with self._lock:
            if endpoint in self._unpriced:
                return False
            if endpoint not in self._learned:
                return True
            if self._least_fall.get(endpoint, MAX_COST) <= 1:
                return False  # a fall is the cost plus others' spend: a fall of 1 is a cost of 1, exactly
            # Taken from another process: trusted. Measured here: until the smallest fall came twice
            # (a second gap that held nobody else's call), or after MAX_LEARN_SAMPLES falls.
            return (
                endpoint in self._measured
                and self._least_seen[endpoint] < 2
                and self._taken[endpoint] < MAX_LEARN_SAMPLES
            )

    def unpriced(self, endpoint: str) -> bool:
        """Whether ``endpoint`` answered without the rate headers (nothing to learn: 1 point a call)."""
        with self._lock:
            return endpoint in self._unpriced and endpoint not in self._learned

    def known(self) -> dict[str, int]:
        """Every learned cost."""
        with self._lock:
            return dict(self._learned)

    def adopt(self, costs: Mapping[str, int]) -> None:
        """Take costs other processes learned, for endpoints this one has not measured itself."""
        with self._lock:
            for endpoint, cost in costs.items():
                if endpoint not in self._measured:
                    self._learned[endpoint] = cost

    def alone(self) -> bool:
        """Whether the call being answered is our only one in flight (asked before ``read_fall``)."""
        with self._lock:
            return self._in_flight == 1

    def call_sent(self) -> None:
        """A call is about to be sent."""
        with self._lock:
            self._in_flight += 1

    def read_fall(
        self, endpoint: str, rate: RateHeaders, charged: bool, now: float | None = None
    ) -> dict[str, int]:
        """Learn from one answer's rate headers; returns the costs that changed."""
        now = time.monotonic() if now is None else now
        limit, remaining, reset = rate.limit, rate.remaining, rate.reset
        with self._lock:
            alone = self._in_flight == 1
            self._in_flight = max(0, self._in_flight - 1)
            last, self._last = self._last, None
            # An answer read right after one that came with another of ours in flight is of a call
            # that was in flight then (else a call still unanswered would be in flight now too).
            overlapped, self._last_shared = self._last_shared, not alone
            if limit is None or remaining is None:
                if charged:
                    self._unpriced.add(endpoint)
                return {}
            self._unpriced.discard(endpoint)
            same_window = last is not None and last[0] == limit and last[2] == reset
            if (not alone or overlapped) and same_window and last is not None and last[1] < remaining:
                # Overlapping answers came out of order (the two of a pair read the other way round,
                # the API charging the second sent first): the lower Remaining is later. Taking the
                # higher read the next call's fall as its cost plus this one's: 2 for a true 1.
                self._last = last
                return {}
            self._last = (limit, remaining, reset, now)
            if not (charged and alone and same_window and last is not None):
                return {}
            fall = last[1] - remaining
            if fall < 1:
                return {}  # a new window, or answers out of order
            if fall > _outlier_fall([f for _e, f, _g in self._samples]):
                return {}  # a Remaining that jumped: one lying answer must not move the costs
            self._samples.append((endpoint, fall, max(0.0, now - last[3])))
            self._measured.add(endpoint)
            self._taken[endpoint] += 1
            least = self._least_fall.get(endpoint)
            if least is None or fall < least - 0.5:
                self._least_fall[endpoint], self._least_seen[endpoint] = fall, 1
            elif fall < least + 0.5:
                self._least_seen[endpoint] += 1
            before = dict(self._learned)
            self._estimate()
            return {e: c for e, c in self._learned.items() if before.get(e) != c}

    def _estimate(self) -> None:
        """Each endpoint's cost: its smallest fall (a fall is the cost plus what others spent, never
        less under a fixed window). The likelihood of a lower cost with the others' points arriving
        at random (``_likelihood``) read costs low against a product spending in bursts (4 for a true
        7: 1.24 times the share spent), so it only gives the others' rate."""
        least = {
            e: max(1, min(MAX_COST, math.floor(self._least_fall[e] + 1e-9))) for e, _f, _g in self._samples
        }
        _score, self.others_per_second = _likelihood(self._samples, least)
        self._learned.update(least)


def _outlier_fall(falls: Sequence[float]) -> float:
    """The fall beyond which one is a lie, not a cost plus others' spend: far above the usual falls."""
    usual = sorted(falls)[len(falls) // 2] if falls else MAX_COST
    return 4 * MAX_COST + 4 * usual


def _likelihood(samples: Sequence[tuple[str, float, float]], costs: Mapping[str, int]) -> tuple[float, float]:
    """How well ``costs`` explain the falls, with the others' calls arriving at random (Poisson).

    What others spend in a gap is a whole number of points, so a fall is its call's cost plus k >= 0,
    with k ~ Poisson(rate x gap) and the rate at its best (total k over total time). Subtracting an
    average spend from each fall instead (as a regression would) under-reads a cost whenever the
    gaps between our calls are alike: cost + rate x gap is then all a fall says, and a cost too low
    would let a minute's calls spend more than the share.
    """
    extras = [(fall - costs[endpoint], max(gap, 1e-3)) for endpoint, fall, gap in samples]
    total_time = sum(gap for _k, gap in extras)
    rate = max(0.0, sum(k for k, _gap in extras) / total_time)
    score = 0.0
    for k, gap in extras:
        expected = rate * gap
        if k > 0:
            score += k * math.log(expected) - math.lgamma(k + 1)
        score -= expected
    return score, rate
