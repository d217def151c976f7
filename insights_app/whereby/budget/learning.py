"""What both rate budgets share: the figures, the cost book, and what each answer teaches them."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping

from ...conf import get_settings
from ..wait_hints import seconds_until
from .costs import MAX_COST, CostBook, number
from .figures import BudgetFigures, resolve_figures

logger = logging.getLogger(__name__)
# The token bucket holds this much of the budget: time lost waiting (a call sent alone while its
# cost is learned, the pause between a sync's steps) is caught up by the calls after it, instead of
# being lost. The log of the last minute's spends still keeps every rolling minute within the budget.
BURST_SECONDS = 1.0
# ... when that second holds at least this many calls: with a small budget the calls stay paced one
# by one, so that processes sharing it take turns (a bucket of two calls let one take both).
BURST_MIN_CALLS = 10


class Learning:
    """What both budgets share: the figures, the cost book, and what an answer teaches."""

    costs: CostBook
    fixed_points: float | None
    _grants: threading.local  # this thread's last reservation: (points, the instant to refund at)

    def _granted(self, points: int, stamp: float | None) -> None:
        """Remember what this thread reserved for the call it is about to send."""
        self._grants.call = (points, stamp)

    def _reservation(self, endpoint: str) -> tuple[int, float | None]:
        """What this thread reserved for the call just answered (the current cost when it reserved none)."""
        call = getattr(self._grants, "call", None)
        self._grants.call = None
        return call if call is not None else (self.cost(endpoint), None)

    def _learned_plan(self) -> float | None:
        raise NotImplementedError

    def _store_plan(self, plan: float) -> None:
        raise NotImplementedError

    def _store_cost(self, endpoint: str, cost: int) -> None:
        raise NotImplementedError

    def _shared_cost(self, endpoint: str) -> int | None:
        """What every process sees as ``endpoint``'s cost (the book itself when nothing is shared)."""
        return self.costs.cost(endpoint)

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

    def cost(self, endpoint: str) -> int:
        """Points to reserve for a call to ``endpoint``: its learned cost; until learned, the most a call
        may cost (10), so calls never spend more than the share; the rest is refunded after the answer."""
        learned = self.costs.cost(endpoint)
        if learned is not None:
            return learned
        return 1 if self.costs.unpriced(endpoint) else MAX_COST

    def learning(self, endpoint: str) -> bool:
        """Whether ``endpoint``'s cost is still being learned (the client then sends its calls alone)."""
        return self.costs.learning(endpoint)

    def started(self, endpoint: str) -> None:
        """A call is about to be sent (costs are learned only from calls with none of ours in flight)."""
        self.costs.started()

    def observe(self, endpoint: str, status: int | None, headers: Mapping[str, str]) -> int:
        """Learn the plan and the endpoint's cost from an answer; settle the call at what it cost (charge
        what it cost beyond its reservation, refund what it did not use). Returns what it cost."""
        reserved, stamp = self._reservation(endpoint)
        limit = number(headers.get("X-RateLimit-Limit"))
        if limit is not None and limit >= 1 and limit != self._learned_plan():
            self._store_plan(limit)
        charged = status is not None and status not in (401, 429)
        remaining = number(headers.get("X-RateLimit-Remaining"))
        if charged and remaining is not None and remaining <= self.low_remaining():
            # Slow every process down until the reset: the customer's product keeps its points.
            until_reset = seconds_until(headers.get("X-RateLimit-Reset"))
            pause = min(get_settings().MAX_RETRY_WAIT, until_reset if until_reset is not None else 5.0)
            if pause > 0:
                logger.info("only %s API points left for the organisation: pausing %.1f s", remaining, pause)
                self.pause(pause)
        # Share what this process reserves (cautious while a cost rests on few samples), and share it
        # again when the shared copy lost it: Redis keeps nothing on disk.
        for changed in {*self.costs.observe(endpoint, headers, charged), endpoint}:
            cost = self.costs.cost(changed)
            if cost is not None and self._shared_cost(changed) != cost:
                self._store_cost(changed, cost)
        if not charged:
            return 0  # not charged, or not known to be: the reservation stays
        spent = self._call_cost(endpoint, limit, remaining)
        if spent > reserved:
            self.settle(spent - reserved)
        elif spent < reserved and stamp is not None:
            self.refund(reserved - spent, stamp)
        return spent

    def _call_cost(self, endpoint: str, limit: float | None, remaining: float | None) -> int:
        """What a charged call cost, as far as we know: its learned cost (never below the truth while it
        rests on few samples); else at most what the window has lost so far (Limit - Remaining)."""
        learned = self.costs.cost(endpoint)
        if learned is not None:
            return learned
        if limit is None or remaining is None:
            return 1  # no rate headers: nothing to learn, a point a call
        return max(1, min(MAX_COST, math.ceil(limit - remaining)))

    def refund(self, points: int, stamp: float) -> None:
        raise NotImplementedError

    def settle(self, points: int) -> None:
        raise NotImplementedError

    def pause(self, seconds: float) -> None:
        raise NotImplementedError

    def low_remaining(self) -> float:
        """RATE_LOW_REMAINING, or three of the dearest calls learned: the product keeps a few points."""
        return max(get_settings().RATE_LOW_REMAINING, 3 * max([1, *self.costs.known().values()]))

    def _call_worth(self) -> float:
        """One call's worth: the dearest call known (what a new bucket starts with)."""
        return float(max([1, *self.costs.known().values()]))

    def _capacity(self, points: int) -> float:
        """The bucket holds BURST_SECONDS of the budget when that is BURST_MIN_CALLS calls or more, else
        one call's worth (the dearest call known, at least ``points``). A new bucket starts with one
        call's worth, so a run never spends faster than the budget's rate plus one call."""
        call, second = self._call_worth(), self.figures().budget / 60.0 * BURST_SECONDS
        return max(float(points), call, second if second >= BURST_MIN_CALLS * call else 0.0)
