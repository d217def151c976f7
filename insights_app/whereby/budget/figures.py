"""The budget's figures: plan, share, budget and where each came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...conf import get_settings

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
