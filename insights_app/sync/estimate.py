"""The calls a full sync still needs, estimated as it goes and written to its checkpoint, and those
calls as points and a time at the current budget (the dashboard, the progress bar)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Sum
from django.utils import timezone

from ..conf import get_settings
from ..models import Participant, Room, RoomSession, SyncRun
from ..whereby.budget.current import get_budget
from ..whereby.budget.shared import RedisBudget
from .context import RunContext

# Written at most this often (and after every step of the newest-first pass).
ESTIMATE_INTERVAL = 5.0
# The share of a mark's points an estimate never falls below while its calls are due.
STALE_FLOOR = 0.05


class Estimator:
    """Rooms' ``totalSessions`` and sessions' ``totalUniqueParticipants`` as the yardsticks of the calls left."""

    def __init__(self, ctx: RunContext, rooms: dict[int, Any]) -> None:
        self.ctx = ctx
        self.rooms = rooms  # room pk -> RoomWork
        self.last_started: dict[int, Any] = {}
        self.total_sessions: dict[int, int] = {}
        self.room_people = 0.0
        pks = list(rooms)
        for start in range(0, len(pks), 500):
            for pk, last, sessions, people in Room.objects.filter(
                pk__in=pks[start : start + 500]
            ).values_list("pk", "last_session_started_at", "total_sessions", "total_unique_participants"):
                self.last_started[pk], self.total_sessions[pk] = last, int(sessions or 0)
                self.room_people += people or 0
        # Connections whose details are stored already (a full sync does not fetch them again): by
        # session, and by room for rooms not listed yet. The start box counts the same way.
        self.synced: dict[int, int] = {}
        self.room_synced: dict[int, int] = {}
        if ctx.run.details_policy != "none":
            for start in range(0, len(pks), 500):
                stored = Participant.objects.filter(
                    room_session__room_id__in=pks[start : start + 500], details_synced_at__isnull=False
                )
                for session_pk, room_pk, count in stored.values_list(
                    "room_session_id", "room_session__room_id"
                ).annotate(n=Count("id")):
                    self.synced[session_pk] = count
                    self.room_synced[room_pk] = self.room_synced.get(room_pk, 0) + count
        self.people: dict[int, float] = {}  # session pk -> its totalUniqueParticipants
        self.seen_sessions, self.seen_people = 0, 0.0
        self.details_due = 0.0  # detail calls of sessions read, not fetched yet
        self._written_at = 0.0

    def sessions_listed(self, people: dict[int, float]) -> None:
        """A room's sessions were listed: ``people`` maps each session's pk to its participant total."""
        if self.ctx.run.details_policy != "none":  # kept only to count detail calls: none without them
            self.people.update(people)
        self.seen_sessions += len(people)
        self.seen_people += sum(people.values())

    def session_read(self, session_pk: int, started: datetime | None) -> None:
        """A session's participants were read; its details are due next."""
        self.details_due += self._details_left(session_pk, started, self.people.pop(session_pk, 0))

    def _details_left(self, session_pk: int, started: datetime | None, people: float) -> float:
        """Detail calls a session still needs: those wanted, less the connections already stored."""
        return max(0.0, self.details_wanted(started, people) - self.synced.get(session_pk, 0))

    def details_fetched(self) -> None:
        """The step's details were fetched."""
        self.details_due = 0.0

    def details_wanted(self, started: datetime | None, people: float) -> float:
        """Detail calls the run's policy asks for, for a session of ``people`` connections."""
        policy = self.ctx.run.details_policy
        if policy == "none":
            return 0.0
        window = self.ctx.now - timedelta(days=self.ctx.conf.DETAIL_RECENT_DAYS)
        if policy == "recent" and (started is None or started < window):
            return 0.0
        return float(people)

    def calls_left(self, pending: Mapping[int, Iterable[tuple[Any, Any]]]) -> dict[str, int]:
        """Calls still needed per endpoint: listings of rooms not listed yet (by ``totalSessions``),
        participants of sessions not read yet, and one detail call per connection expected."""
        per_session = (
            self.seen_people / self.seen_sessions
            if self.seen_sessions
            else self.room_people / max(1, sum(self.total_sessions.values()))
        )
        listings = participants = 0
        details = self.details_due
        for pk, work in self.rooms.items():
            if pk in pending:
                for started, session in pending[pk]:
                    participants += 1
                    details += self._details_left(session.pk, started, self.people.get(session.pk, 0))
            elif work.refresh:
                sessions = self.total_sessions.get(pk, 0)
                listings += max(1, math.ceil(sessions / 100))
                participants += sessions
                wanted = self.details_wanted(self.last_started.get(pk), sessions * per_session)
                details += max(0.0, wanted - self.room_synced.get(pk, 0))
        return {"room-sessions": listings, "participants": participants, "participant": round(details)}

    def write(self, pending: Mapping[int, Iterable[tuple[Any, Any]]], *, force: bool = False) -> None:
        """Write the calls left to the checkpoint, with the points the run had spent at that moment."""
        now = time.monotonic()
        if not force and now - self._written_at < ESTIMATE_INTERVAL:
            return
        self._written_at = now
        self.ctx.flush(force=True)
        run = self.ctx.run
        spent = SyncRun.objects.filter(pk=run.pk).values_list("api_points", flat=True).first() or 0
        run.merge_checkpoint(estimate={"calls": self.calls_left(pending), "api_points": spent})


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
    seconds = points / max(budget, 1e-9) * 60.0
    if needed > 0:
        # Calls were still due when the mark was written: the run has spent what they were expected
        # to cost (a step longer than expected, costs read high) but the work is not done. Never
        # "about 0 s" then: the last part of the estimate stays until the next mark says.
        points = max(points, math.ceil(needed * STALE_FLOOR))
        seconds = max(seconds, points / max(budget, 1e-9) * 60.0, 1.0)
    return Estimate(points, seconds, budget)


def work_done(run: SyncRun, estimate: Estimate | None) -> float | None:
    """The share of a running run's work done, 0 to 1: the points it spent against those plus the
    points its estimate says are left (None without an estimate). It moves with every call, where the
    count of finished rooms stands still until a room's last session is read (a full sync finishes
    most rooms in its last newest-first step)."""
    if estimate is None:
        return None
    spent = max(0, run.api_points)
    whole = spent + estimate.points
    return spent / whole if whole > 0 else None


def work_percent(done: float) -> int:
    """A share of the work done (``work_done``) as a whole percent: 100 only when nothing is left."""
    return min(99, math.floor(100 * done)) if done < 1 else 100


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
