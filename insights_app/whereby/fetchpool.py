"""Several requests in flight: a pool of fetch threads, and the gate that sends a call alone while its
endpoint's cost is being learned.

Threads, not an async client: the sync's work between calls is Django ORM code, which is synchronous,
and ``requests`` with one pooled session is what the client, its retries, its streamed reads and its
tests are built on. The threads only wait on the network; every call still passes the rate budget
(the single gate), and the database is written by the caller's thread alone.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FuturesTimeout
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..errors import Interrupted

T = TypeVar("T")
R = TypeVar("R")
# How often the caller's thread asks whether the run was cancelled while it waits for a result.
CHECK_SECONDS = 1.0
# Items handed to the threads ahead of the one the caller waits for, per thread, when the caller
# gives no weights: enough to keep them busy while the caller stores a page.
AHEAD = 4


class Slot:
    """One call's place among those in flight."""

    def __init__(self, gate: SendGate, pair: str | None, lead: bool, paired: bool) -> None:
        self._gate, self._pair, self._lead = gate, pair, lead
        self.paired = paired  # the second call of a pair: it goes right after the first, unpaced

    def sending(self) -> None:
        """The call is going out now: a call sent alone lets one waiting call of its pair follow it."""
        if self._lead and self._pair is not None:
            self._gate.open_pair(self._pair)


class SendGate:
    """Counts our calls in flight; a call sent ``alone`` waits until none is, and holds the others
    back until it is answered (costs are learned only from such calls). One waiting call of the same
    ``pair`` (endpoint) follows a call sent alone the moment it goes out: the API charges the two a
    few milliseconds apart, so the fall between their answers is one call's cost and seldom holds
    anyone else's (a round trip between two calls held a call of a product calling every 60 ms every
    time, and each cost read a point or two high)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._sending = 0
        self._exclusive = 0  # calls sent alone (a lone one and the one following it) in flight
        self._alone_waiting = 0
        self._pairs_waiting: dict[str, int] = {}
        self._pair_open: str | None = None  # the pair a waiting call may join now
        self.most_in_flight = 0

    @contextmanager
    def slot(self, alone: bool | Callable[[], bool], pair: str | None = None) -> Iterator[Slot]:
        """Hold a place among the calls in flight for one attempt. ``alone`` may be asked again while
        the call waits: calls that queued while their endpoint was being learned go out together once
        it is learned, instead of one after another."""
        wants_alone = alone if callable(alone) else (lambda: alone)
        with self._cond:
            waiting_alone = joined = False
            while True:
                lone = wants_alone()
                if lone != waiting_alone:
                    self._wait_alone(pair, 1 if lone else -1)
                    waiting_alone = lone
                    if not lone:
                        self._cond.notify_all()  # the others may have waited for this one alone
                if lone and pair is not None and self._pair_open == pair:
                    self._pair_open, joined = None, True
                    break
                if lone and self._sending == 0 and not self._exclusive:
                    break
                if not lone and not self._exclusive and not self._alone_waiting:
                    break
                self._cond.wait()
            if lone:
                self._wait_alone(pair, -1)
                self._exclusive += 1
            self._sending += 1
            self.most_in_flight = max(self.most_in_flight, self._sending)
        try:
            yield Slot(self, pair, lead=lone and not joined, paired=joined)
        finally:
            with self._cond:
                self._sending -= 1
                if lone:
                    self._exclusive -= 1
                    if not self._exclusive:
                        self._pair_open = None  # a call that did not follow in time waits its turn
                self._cond.notify_all()

    def open_pair(self, pair: str) -> None:
        """The call sent alone is going out: one waiting call of ``pair`` may follow it."""
        with self._cond:
            if self._exclusive == 1 and self._pairs_waiting.get(pair, 0) > 0:
                self._pair_open = pair
                self._cond.notify_all()

    def _wait_alone(self, pair: str | None, change: int) -> None:
        self._alone_waiting += change
        if pair is not None:
            self._pairs_waiting[pair] = self._pairs_waiting.get(pair, 0) + change


@dataclass(frozen=True)
class Ahead(Generic[T]):
    """How much to hand out ahead of the caller: items up to ``limit`` in ``weigh``'s unit.

    Sized by what the results will hold (rows), not by how many calls they take, so that the
    threads keep fetching while the caller writes a whole batch, and memory stays bounded by rows."""

    weigh: Callable[[T], float]
    limit: float


class FetchPool:
    """``concurrency`` threads that run fetch functions; results come back in the items' order."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = max(1, int(concurrency))
        self._executor: ThreadPoolExecutor | None = None
        self._local = threading.local()

    def worker_interrupt(self) -> Callable[[], bool] | None:
        """The stop flag of the batch this thread works for (None outside a pool thread)."""
        return getattr(self._local, "interrupt", None)

    def close(self) -> None:
        """Let the threads go (they are idle between batches)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        interrupt: Callable[[], bool] | None = None,
        stop_on: tuple[type[BaseException], ...] = (),
        ahead: Ahead[T] | None = None,
    ) -> Generator[tuple[T, R | Exception], None, None]:
        """``(item, fn(item))``, or ``(item, the exception it raised)``, for every item in order, with
        up to ``concurrency`` running at once and at most AHEAD times that many handed out, or, with
        ``ahead``, items up to its weight (rows expected, say) handed out (memory stays flat either way).
        ``interrupt`` is asked by the caller's thread while it waits; True stops every thread, and so
        does an exception of a ``stop_on`` class (an outage: the other calls end at their next wait)."""
        if self.concurrency == 1:
            for item in items:
                try:
                    yield item, fn(item)
                except Exception as exc:
                    yield item, exc
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix="insights-fetch")
        stop = threading.Event()
        cause: list[BaseException] = []  # the stop_on error that stopped the others

        def run(item: T) -> R:
            if stop.is_set():
                raise Interrupted("stopped before fetching")
            self._local.interrupt = stop.is_set
            try:
                return fn(item)
            except stop_on as exc:
                cause.append(exc)
                stop.set()
                raise
            finally:
                self._local.interrupt = None

        pending: deque[tuple[T, Future[R]]] = deque()
        weights: deque[float] = deque()  # of the pending items, with ``ahead``
        held = 0.0
        try:
            for item in items:
                pending.append((item, self._executor.submit(run, item)))
                if ahead is None:
                    if len(pending) >= AHEAD * self.concurrency:
                        yield _next(pending, stop, interrupt, cause)
                    continue
                weight = max(1.0, ahead.weigh(item))
                weights.append(weight)
                held += weight
                while held >= ahead.limit and pending:
                    held -= weights.popleft()
                    yield _next(pending, stop, interrupt, cause)
            while pending:
                yield _next(pending, stop, interrupt, cause)
        finally:
            # Stopped early (an error, a cancel, the caller gave up): the threads stop at their next wait.
            stop.set()
            for _item, future in pending:
                future.cancel()
            wait([future for _item, future in pending])


def _next(
    pending: deque[tuple[Any, Future[Any]]],
    stop: threading.Event,
    interrupt: Callable[[], bool] | None,
    cause: list[BaseException],
) -> tuple[Any, Any]:
    item, future = pending[0]
    while True:
        try:
            # Waits on the future alone: ``concurrent.futures.wait`` sets up a waiter on every call,
            # which stood out in the sync thread's profile (bench/RESULTS.md, comment figures).
            error = future.exception(timeout=CHECK_SECONDS)
            break
        except FuturesTimeout:
            if interrupt is not None and interrupt():
                stop.set()
                raise Interrupted("stopped while waiting for the API") from None
    pending.popleft()
    if error is not None:
        if not isinstance(error, Exception):
            raise error
        if isinstance(error, Interrupted) and cause and isinstance(cause[0], Exception):
            return item, cause[0]  # stopped because another call met an outage: that is the news
        return item, error
    return item, future.result()
