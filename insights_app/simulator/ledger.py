"""The simulator's ledger: every point charged, when, and to whom (our API calls or the product's)."""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import Counter
from typing import NamedTuple

OURS = "ours"  # a request that reached the server over HTTP (the app, a test, a peer)
PRODUCT = "product"  # the customer's own product, spending from the same budget


class Spend(NamedTuple):
    """Points charged at a moment (``time.monotonic()`` seconds) to one caller."""

    time: float
    caller: str
    points: int


class Ledger:
    """Append-only, thread-safe; spends arrive in time order (the limiter charges in order).

    ``keep_seconds`` (None: keep everything, for tests and benches) forgets spends older than that, so
    a simulator serving for days (the demo) keeps its memory flat.
    """

    def __init__(self, keep_seconds: float | None = None) -> None:
        self._lock = threading.Lock()
        self._spends: list[Spend] = []
        self.refused: Counter[str] = Counter()  # calls refused, by caller
        self.keep_seconds = keep_seconds

    def record(self, moment: float, caller: str, points: int) -> None:
        """Note a charge."""
        with self._lock:
            self._spends.append(Spend(moment, caller, points))
            # Trimmed in batches: one list copy per thousand spends, not per spend.
            if self.keep_seconds is not None and len(self._spends) % 1000 == 0:
                oldest = bisect_left([s.time for s in self._spends], moment - self.keep_seconds)
                del self._spends[:oldest]

    def refuse(self, caller: str) -> None:
        """Note a refused call."""
        with self._lock:
            self.refused[caller] += 1

    def spends(self, caller: str | None = None) -> list[Spend]:
        """A copy of the spends, of one caller or all."""
        with self._lock:
            return [s for s in self._spends if caller is None or s.caller == caller]

    def total(self, caller: str | None = None, since: float | None = None, until: float | None = None) -> int:
        """Points charged to ``caller`` (or anyone) with ``since <= time < until``."""
        return sum(
            s.points
            for s in self.spends(caller)
            if (since is None or s.time >= since) and (until is None or s.time < until)
        )

    def busiest(
        self,
        caller: str | None = OURS,
        seconds: float = 60.0,
        since: float | None = None,
        until: float | None = None,
    ) -> tuple[float, int]:
        """The start and the points of the rolling ``seconds`` holding the most of ``caller``'s points
        (counting only spends with ``since <= time <= until``).

        Every busiest window can be slid to start at a spend, so only those starts are tried.
        """
        spends = [
            s
            for s in self.spends(caller)
            if (since is None or s.time >= since) and (until is None or s.time <= until)
        ]
        times = [s.time for s in spends]
        prefix = [0]
        for spend in spends:
            prefix.append(prefix[-1] + spend.points)
        best = (spends[0].time if spends else 0.0, 0)
        for index, spend in enumerate(spends):
            end = bisect_left(times, spend.time + seconds, lo=index)
            points = prefix[end] - prefix[index]
            if points > best[1]:
                best = (spend.time, points)
        return best

    def clear(self) -> None:
        """Forget everything (with ``reset_counters``)."""
        with self._lock:
            self._spends.clear()
            self.refused.clear()
