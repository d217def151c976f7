"""How long a full sync still needs, as an estimate: its calls left (``sync.estimate``) at the points
each endpoint costs (learned from the API), less what it has spent since, at our current budget."""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.utils.translation import gettext

from .models import SyncRun
from .ratelimit import RedisBudget, get_budget
from .reports.tables import format_duration


@dataclass(frozen=True)
class Estimate:
    """Points a run still needs and the time they take at the budget (both estimates)."""

    points: int
    seconds: float
    budget: float  # points per minute


def points_per_call() -> dict[str, float]:
    """The learned cost of each endpoint, keyed by its last path segment ("participant", ...)."""
    budget = get_budget()
    costs = budget.shared_costs() if isinstance(budget, RedisBudget) else budget.costs.known()
    return {endpoint.rsplit("/", 1)[-1]: float(cost) for endpoint, cost in costs.items()}


def estimate_for(run: SyncRun, *, costs: dict[str, float] | None = None) -> Estimate | None:
    """The estimate a running run last wrote, brought up to date with the points it spent since."""
    mark = (run.checkpoint or {}).get("estimate")
    if not run.is_active or not isinstance(mark, dict) or not isinstance(mark.get("calls"), dict):
        return None
    costs = points_per_call() if costs is None else costs
    needed = sum(
        float(calls) * costs.get(endpoint, 1.0)
        for endpoint, calls in mark["calls"].items()
        if isinstance(calls, int | float) and math.isfinite(calls)
    )
    spent_since = max(0, run.api_points - int(mark.get("api_points") or 0))
    points = max(0, round(needed - spent_since))
    budget = get_budget().figures().budget
    return Estimate(points, points / max(budget, 1e-9) * 60.0, budget)


def estimate_text(run: SyncRun) -> str:
    """'about 1,234 points left, about 25 min at 50 points/min (estimate)', or '' without one."""
    estimate = estimate_for(run)
    if estimate is None:
        return ""
    return gettext("about %(points)s points left, about %(time)s at %(budget)s points/min (estimate)") % {
        "points": f"{estimate.points:,}",
        "time": format_duration(estimate.seconds),
        "budget": f"{estimate.budget:g}",
    }
