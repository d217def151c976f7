"""What both rate budgets share: the figures, the cost book, and what each answer teaches them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ...conf import get_settings
from ..accounting import UNCHARGED
from ..rate_headers import NO_HEADERS, RateHeaders, instant, seconds_until
from .costs import CostBook
from .figures import BudgetFigures, resolve_figures
from .limiter_shape import BUCKET, FIXED, SLIDING, UNKNOWN, Answer, ShapeWatch
from .readings import MAX_COST, Readings
from .sliding import SlidingCosts

logger = logging.getLogger(__name__)
# The token bucket holds this much of the budget: time lost waiting (a call sent alone while its
# cost is learned, the pause between a sync's steps) is caught up by the calls after it, instead of
# being lost. The log of the last minute's spends still keeps every rolling minute within the budget.
BURST_SECONDS = 1.0
# ... when that second holds at least this many calls: with a small budget the calls stay paced one
# by one, so that processes sharing it take turns (a bucket of two calls let one take both).
BURST_MIN_CALLS = 10


class Provisional:
    """Calls counted while the limiter was not known: (endpoint, points counted, reservation instant,
    who counted them: the client whose run holds the count)."""

    def __init__(self) -> None:
        self._calls: list[tuple[str, int, float | None, object]] = []
        self._lock = threading.Lock()

    def add(self, endpoint: str, points: int, stamp: float | None, owner: object) -> None:
        with self._lock:
            self._calls.append((endpoint, points, stamp, owner))
            del self._calls[:-10_000]  # a limiter never found: the oldest no longer matter

    def take(self, settled: Callable[[str], bool]) -> list[tuple[str, int, float | None, object]]:
        """The calls of the endpoints ``settled`` says are known for good (the others stay)."""
        with self._lock:
            if not self._calls:
                return []
            known = {call[0]: settled(call[0]) for call in self._calls}
            taken = [call for call in self._calls if known[call[0]]]
            self._calls = [call for call in self._calls if not known[call[0]]]
            return taken


@dataclass
class Knowledge:
    """What one process learned about one organisation's limiter and costs (kept between budgets)."""

    costs: CostBook = field(default_factory=CostBook)
    readings: Readings = field(default_factory=Readings)
    watch: ShapeWatch = field(default_factory=ShapeWatch)
    provisional: Provisional = field(default_factory=Provisional)
    sliding: SlidingCosts = field(default_factory=SlidingCosts)


class Learning:
    """What both budgets share: the figures, the cost book, and what an answer teaches."""

    costs: CostBook
    readings: Readings
    watch: ShapeWatch
    provisional: Provisional
    sliding: SlidingCosts
    fixed_points: float | None
    _grants: threading.local  # this thread's last reservation: (points, the instant to refund at)

    def _know(self, knowledge: Knowledge) -> None:
        self.costs, self.readings, self.watch = knowledge.costs, knowledge.readings, knowledge.watch
        self.provisional, self.sliding = knowledge.provisional, knowledge.sliding

    def _granted(self, points: int, stamp: float | None) -> None:
        """Remember what this thread reserved for the call it is about to send."""
        self._grants.call = (points, stamp)

    def _reservation(self, endpoint: str) -> tuple[int, float | None]:
        """What this thread reserved for the call just answered (the current cost when it reserved none)."""
        call = getattr(self._grants, "call", None)
        self._grants.call = None
        return call if call is not None else (self.points_for(endpoint), None)

    def _learned_plan(self) -> float | None:
        raise NotImplementedError

    def _store_plan(self, plan: float) -> None:
        raise NotImplementedError

    def figures(self) -> BudgetFigures:
        """The plan and our budget right now (a budget built with a number keeps it)."""
        figures = resolve_figures(self._learned_plan())
        if self.fixed_points is not None:
            return BudgetFigures(figures.plan, figures.plan_source, self.fixed_points, "set", figures.share)
        return figures

    @property
    def points_per_minute(self) -> float:
        """Our budget in points per minute."""
        return self.figures().budget

    def shape(self) -> str:
        """The limiter found: this process's reading, else what another process shared."""
        mine = self.watch.shape
        return mine if mine != UNKNOWN else (self._shared_shape() or UNKNOWN)

    def _shared_shape(self) -> str | None:
        return None

    def points_for(self, endpoint: str) -> int:
        """Points to reserve for a call to ``endpoint``, never below what it may cost (docs/budget.md).

        Under a fixed window: the cost learned from Remaining's falls. Under any limiter: the ceiling
        its answers proved (Limit - Remaining). Nothing known yet: the most a call may cost (10)."""
        ceiling = self.readings.ceiling(endpoint)
        shape = self.shape()
        if shape == FIXED:
            learned = self.costs.estimate(endpoint)
        elif shape == SLIDING:
            learned = self.sliding.estimate(endpoint) or self._shared_cost_for(endpoint, shape)
        else:
            learned = self._shared_cost_for(endpoint, shape)
        known = [c for c in (ceiling, learned) if c is not None]
        return min(known) if known else MAX_COST

    def _shared_cost_for(self, endpoint: str, shape: str) -> int | None:
        """What another process found ``endpoint`` costs under the same limiter (None: nothing)."""
        return None

    def charged(self, endpoint: str) -> tuple[int, bool]:
        """What a call to ``endpoint`` was charged, as far as the headers tell now, and whether that is
        learned. Not known for good yet: an estimate, the cost read from Remaining's falls (right under
        a fixed window) within the smallest Limit - Remaining an answer gave, else that, else 10 (not
        what the budget reserves meanwhile: the most a call may cost, robust to lying answers)."""
        if self._settled(endpoint):
            return self.points_for(endpoint), True
        ceiling = self.readings.least_ceiling(endpoint)
        guesses = [c for c in (self.costs.estimate(endpoint), ceiling) if c is not None]
        return (min(guesses) if guesses else MAX_COST), False

    def cost_sources(self) -> dict[str, tuple[int, str]]:
        """Every endpoint called so far: the points a call reserves, "learned" once the limiter is
        known, else "assumed" (the most it may cost, as far as the answers proved)."""
        endpoints = {*self.costs.known(), *self.readings.ceilings()}
        source = "assumed" if self.shape() == UNKNOWN else "learned"
        return {e: (self.points_for(e), source) for e in sorted(endpoints)}

    def sends_alone(self, endpoint: str) -> bool:
        """Whether ``endpoint``'s cost is still read from Remaining's falls (its calls then go alone,
        two at a time): while the limiter may be a fixed window, where a fall says what a call cost,
        and under a sliding window while the falls within pairs are too few for an estimate."""
        shape = self.shape()
        if shape == SLIDING:
            return self.sliding.wants_pairs(endpoint) and not self.costs.unpriced(endpoint)
        return shape in (UNKNOWN, FIXED) and self.costs.needs_falls(endpoint)

    def unpaced(self, endpoint: str) -> bool:
        """Whether a call to ``endpoint`` goes right after the previous answer, waiting only for the
        rolling minute: one that learns a cost under a fixed window (a short gap holds little of the
        product's spend). While the limiter is unknown calls are paced: their answers, spread out,
        show sooner how Remaining moves."""
        return self.shape() == FIXED and self.costs.needs_falls(endpoint)

    def sending(self, endpoint: str) -> None:
        """A call is about to be sent (costs are learned only from calls with none of ours in flight)."""
        self._grants.sent = time.monotonic()
        self.costs.call_sent()

    def answered(
        self, endpoint: str, status: int | None, headers: Mapping[str, str], owner: object = None
    ) -> int:
        """Learn the plan, the limiter and the endpoint's cost from an answer; settle the call at what
        it may have cost (charge beyond its reservation, refund what it did not use). Returns that."""
        reserved, stamp = self._reservation(endpoint)
        sent = getattr(self._grants, "sent", None) or time.monotonic()
        self._grants.sent = None
        charged = status is not None and status not in UNCHARGED
        rate = RateHeaders.read(headers)
        if self.shape() == SLIDING:
            self.sliding.tried(endpoint)
        checked = self.readings.check(endpoint, rate.limit, rate.remaining) if charged else None
        plan = self.readings.plan()
        if plan is not None and plan != self._learned_plan():
            self._store_plan(plan)
        alone = self.costs.alone()
        if checked is not None:
            if not self.sliding.begun:  # quiet: nothing of ours in the minute but this call
                self.sliding.start(time.monotonic(), self.spent_last_minute() <= reserved)
            self.sliding.read_fall(endpoint, sent, time.monotonic(), checked[1], alone)
            answer = Answer(
                sent,
                time.monotonic(),
                checked[1],
                instant(rate.reset, time.time()),
            )
            before = self.watch.shape
            if self.watch.note(answer, checked[0]) != before:
                logger.info("the API's rate limiter reads as %s", self.watch.shape)
        if charged and checked is not None and self.readings.running_low(self.low_remaining()):
            # Slow every process down: the customer's product keeps its points.
            self._pause_for_low(checked, rate.reset)
        if checked is not None or not rate.complete:
            self.costs.read_fall(endpoint, rate if checked is not None else NO_HEADERS, charged)
        else:  # headers that lie teach nothing, and do not make the endpoint one without headers
            self.costs.read_fall(endpoint, NO_HEADERS, False)
        self._share_costs()
        if not charged:
            return 0  # not charged, or not known to be: the reservation stays
        spent = self.points_for(endpoint)
        if spent > reserved:
            self.settle(spent - reserved)
        elif spent < reserved and stamp is not None:
            self.refund(reserved - spent, stamp)
        if not self._settled(endpoint):
            self.provisional.add(endpoint, spent, stamp, owner)
            return spent
        return spent - self._settle_provisional(owner)

    def _pause_for_low(self, checked: tuple[float, float], reset: str | None) -> None:
        """Under a fixed window (or an unknown limiter) until the reset; under a bucket until it holds
        twice the low mark again; under a sliding window a few seconds (its reset is when the whole
        minute has aged out, far longer than it takes for points to come back)."""
        plan, remaining = checked
        shape = self.shape()
        until_reset = seconds_until(reset)
        if shape == BUCKET:
            pause = max(0.5, (2 * self.low_remaining() - remaining) / (plan / 60.0))
        elif shape == SLIDING:
            pause = min(until_reset if until_reset is not None else 5.0, 5.0)
        else:
            pause = until_reset if until_reset is not None else 5.0
        pause = min(get_settings().MAX_RETRY_WAIT, pause)
        if pause > 0:
            logger.info("only %s API points left for the organisation: pausing %.1f s", remaining, pause)
            self.pause(pause)

    def _settled(self, endpoint: str) -> bool:
        """Whether ``endpoint``'s cost is known for good: the limiter is known, and under a fixed
        window the cost no longer rests on few falls."""
        shape = self.shape()
        return shape != UNKNOWN and not (shape == FIXED and self.costs.needs_falls(endpoint))

    def _settle_provisional(self, owner: object) -> int:
        """Calls counted at a cautious cost while their endpoint's was not known for good are counted
        again at what they cost once it is (the difference refunded at their instants); returns the
        points given back to ``owner``'s count. Another client's calls (a run that ended, in this
        process) stay counted high in their run: its count is never taken from this one's."""
        back = 0
        for endpoint, counted, stamp, counted_by in self.provisional.take(self._settled):
            cost = self.points_for(endpoint)
            if cost < counted:
                if counted_by is owner:
                    back += counted - cost
                if stamp is not None:
                    self.refund(counted - cost, stamp)
        return back

    def _share_costs(self) -> None:
        """Share the limiter found and what each endpoint costs under it (never while it is unknown)."""

    def refund(self, points: int, stamp: float) -> None:
        raise NotImplementedError

    def spent_last_minute(self) -> int:
        raise NotImplementedError

    def settle(self, points: int) -> None:
        raise NotImplementedError

    def pause(self, seconds: float) -> None:
        raise NotImplementedError

    def low_remaining(self) -> float:
        """RATE_LOW_REMAINING, or three of the dearest calls learned: the product keeps a few points."""
        return max(get_settings().RATE_LOW_REMAINING, 3 * self._call_worth())

    def _call_worth(self) -> float:
        """One call's worth: the dearest call known (what a new bucket starts with)."""
        return float(max([1, *(cost for cost, _source in self.cost_sources().values())]))

    def _capacity(self, points: int) -> float:
        """The bucket holds BURST_SECONDS of the budget when that is BURST_MIN_CALLS calls or more, else
        one call's worth (the dearest call known, at least ``points``). A new bucket starts with one
        call's worth, so a run never spends faster than the budget's rate plus one call."""
        call, second = self._call_worth(), self.figures().budget / 60.0 * BURST_SECONDS
        return max(float(points), call, second if second >= BURST_MIN_CALLS * call else 0.0)
