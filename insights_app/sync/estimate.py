"""The calls a full sync still needs, estimated as it goes and written to its checkpoint; the
readers (``insights_app.eta``) turn them into points and a time at the current budget."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from ..models import Room, SyncRun
from .context import RunContext

# Written at most this often (and after every step of the newest-first pass).
ESTIMATE_INTERVAL = 5.0


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
        self.details_due += self.details_wanted(started, self.people.pop(session_pk, 0))

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
                    details += self.details_wanted(started, self.people.get(session.pk, 0))
            elif work.refresh:
                sessions = self.total_sessions.get(pk, 0)
                listings += max(1, math.ceil(sessions / 100))
                participants += sessions
                details += self.details_wanted(self.last_started.get(pk), sessions * per_session)
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
