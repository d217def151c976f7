"""The budget's figures (plan, share, budget and where each came from) and the interface the client uses."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .conf import get_settings

BUILD_PLAN = 100  # points per minute assumed until the API has said what the plan is


@dataclass(frozen=True)
class BudgetFigures:
    """The plan and our budget in points per minute, and where each came from."""

    plan: float
    plan_source: str  # "set", "learned" or "assumed"
    budget: float
    budget_source: str  # "set" or "share"
    share: float


def is_auto(value: Any) -> bool:
    """Whether a budget setting asks to be worked out from the API ("auto", any case, or None)."""
    return value is None or (isinstance(value, str) and value.strip().lower() == "auto")


def resolve_figures(learned_plan: float | None) -> BudgetFigures:
    """Explicit settings win; "auto" takes the plan the API reported, else the Build plan."""
    conf = get_settings()
    share = float(conf.RATE_BUDGET_SHARE)
    if not is_auto(conf.PLAN_POINTS_PER_MINUTE):
        plan, plan_source = float(conf.PLAN_POINTS_PER_MINUTE), "set"
    elif learned_plan:
        plan, plan_source = float(learned_plan), "learned"
    else:
        plan, plan_source = float(BUILD_PLAN), "assumed"
    if not is_auto(conf.RATE_BUDGET_POINTS_PER_MINUTE):
        return BudgetFigures(plan, plan_source, float(conf.RATE_BUDGET_POINTS_PER_MINUTE), "set", share)
    return BudgetFigures(plan, plan_source, max(1.0, share * plan), "share", share)


class RateBudget(Protocol):
    """What the client needs from a budget."""

    def figures(self) -> BudgetFigures:
        """The plan and our budget right now."""

    def acquire(
        self, points: int = 1, interrupt: Callable[[], bool] | None = None, unpaced: bool = False
    ) -> float:
        """Block until ``points`` may be spent (``interrupt`` can stop the wait); returns seconds waited.
        ``unpaced``: a call that learns a cost waits only for the rolling minute, not for pacing."""

    def settle(self, points: int) -> None:
        """Charge points already spent beyond what was acquired (a call dearer than expected)."""

    def pause(self, seconds: float) -> None:
        """Make every process sharing this budget wait ``seconds`` before its next call."""

    def available(self) -> float:
        """Tokens available right now (for the dashboard)."""

    def cost(self, endpoint: str) -> int:
        """Points to reserve for one call to ``endpoint``."""

    def started(self, endpoint: str) -> None:
        """A call to ``endpoint`` is about to be sent."""

    def observe(self, endpoint: str, status: int | None, headers: Mapping[str, str]) -> int:
        """Learn from an answer (plan, cost); returns what the call cost, as far as we know."""

    def low_remaining(self) -> float:
        """The X-RateLimit-Remaining at which every process pauses until the API's reset."""
