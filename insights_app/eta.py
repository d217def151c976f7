"""How long a full sync still needs, as an estimate: its calls left (``sync.estimate``) at the points
each endpoint costs (learned from the API), less what it has spent since, at our current budget."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext

from .conf import get_settings
from .models import Participant, Room, RoomSession, SyncRun
from .reports.tables import format_duration
from .whereby.budget.current import get_budget
from .whereby.budget.shared import RedisBudget


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


def full_sync_estimate() -> Estimate | None:
    """What a full sync started now would spend, from the rooms and sessions stored (None: no rooms yet).

    Every room's sessions are listed (one page per 100 of ``totalSessions``) and every session's
    participants read again; details are fetched for the stored connections the policy still wants
    and for the connections expected in sessions not stored yet (connections per stored session).
    """
    conf = get_settings()
    rooms = Room.objects.aggregate(rooms=Count("id"), sessions=Sum("total_sessions"))
    if not rooms["rooms"]:
        return None
    pages = sum(
        max(1, math.ceil((total or 0) / 100))
        for total in Room.objects.values_list("total_sessions", flat=True)
    )
    sessions = max(int(rooms["sessions"] or 0), RoomSession.objects.count())
    details = 0.0
    if conf.DETAIL_POLICY != "none":
        stored = RoomSession.objects.count()
        connections = Participant.objects.count()
        per_session = connections / stored if stored else 0.0
        missing = Participant.objects.filter(details_synced_at__isnull=True, left_at__isnull=False)
        if conf.DETAIL_POLICY == "recent":
            missing = missing.filter(left_at__gte=timezone.now() - timedelta(days=conf.DETAIL_RECENT_DAYS))
        details = missing.count() + max(0, sessions - stored) * per_session * (conf.DETAIL_POLICY == "all")
    costs = points_per_call()
    calls = {"rooms": math.ceil(rooms["rooms"] / 100), "room-sessions": pages, "participants": sessions}
    points = sum(n * costs.get(endpoint, 1.0) for endpoint, n in calls.items())
    points += details * costs.get("participant", 1.0)
    budget = get_budget().figures().budget
    return Estimate(round(points), points / max(budget, 1e-9) * 60.0, budget)


def full_sync_text() -> str:
    """'A full sync now: about 1,234 points, about 25 min at 50 points/min (estimate)', or ''."""
    estimate = full_sync_estimate()
    if estimate is None:
        return ""
    return gettext(
        "A full sync now: about %(points)s points, about %(time)s at %(budget)s points/min (estimate)"
    ) % {
        "points": f"{estimate.points:,}",
        "time": format_duration(estimate.seconds),
        "budget": f"{estimate.budget:g}",
    }


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
