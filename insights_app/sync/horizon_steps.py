"""A full sync fanned out to several workers fills the newest history first too: one set of jobs per
step (the last 7 days, then 30, then the rest), each step's mark written once all its jobs are done.

A room's sessions are listed once, by the job of the first step that needs the room (the rooms'
``lastSessionStartedAt`` says which); the jobs of later steps find the sessions left for them in the
database, so the steps cost no extra calls, as in one process (``horizons``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q

from ..models import RoomSession, SyncRun, SyncStatus
from ..whereby.pages import Page
from .backend import RoomWork
from .batching import fetching_ahead
from .context import RunContext
from .details import iter_detail_targets, pending_details, sync_details
from .estimate import Estimator
from .horizons import ALL_HISTORY, NewestFirst, _previous_complete_from, horizons
from .items import signature
from .stages import SessionRef

# Checkpoint keys shared by a fanned-out run's jobs.
TROUBLED_ROOMS = "troubled_rooms"
UNLISTED_ROOMS = "unlisted_rooms"  # rooms whose session listing failed: later steps leave them alone
STEP_TROUBLE = "step_trouble"


@dataclass(frozen=True)
class Step:
    """One step of a fanned-out full run: the sessions started since ``cutoff`` (None: all) and
    before ``upper`` (None: no bound, the first step)."""

    cutoff: datetime | None
    upper: datetime | None

    def as_payload(self) -> dict[str, str | None]:
        """JSON-safe form for a job argument."""
        return {
            "cutoff": self.cutoff.isoformat() if self.cutoff else None,
            "upper": self.upper.isoformat() if self.upper else None,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, str | None]) -> Step:
        """The step a job argument names."""
        return cls(*(datetime.fromisoformat(v) if v else None for v in (payload["cutoff"], payload["upper"])))


def plan_steps(ctx: RunContext, work: list[RoomWork], size: int) -> list[tuple[Step, list[list[dict]]]]:
    """Each step with its batches of rooms (newest first): every room active since the step's
    cutoff, flagged ``first`` in the step that lists its sessions."""
    last = Estimator(ctx, {w.room_pk: w for w in work}).last_started
    floor = datetime.min.replace(tzinfo=ctx.now.tzinfo)
    newest = sorted(work, key=lambda w: last.get(w.room_pk) or floor, reverse=True)
    cutoffs = horizons(ctx.now)

    def active(pk: int, since: datetime | None) -> bool:
        return since is None or (last.get(pk) is not None and last[pk] >= since)

    plan = []
    upper: datetime | None = None
    for index, cutoff in enumerate(cutoffs):
        previous = cutoffs[index - 1] if index else None
        rooms = [
            {**w.as_payload(), "first": not (index and active(w.room_pk, previous))}
            for w in newest
            if active(w.room_pk, cutoff)
        ]
        plan.append((Step(cutoff, upper), [rooms[i : i + size] for i in range(0, len(rooms), size)]))
        upper = cutoff
    return plan


def fan_out_newest_first(ctx: RunContext, work: list[RoomWork], size: int) -> bool:
    """Hand a full run's steps to the backend's jobs (True), the run's estimate written first (the
    readers subtract what the run spends after it)."""
    Estimator(ctx, {w.room_pk: w for w in work}).write({}, force=True)
    return ctx.backend.fan_out_steps(ctx.run, plan_steps(ctx, work, size))


class _Unwritten(Estimator):
    """A job sees only its share: the run's estimate is written once, when it fans out."""

    def write(self, pending: Mapping[int, Iterable[tuple[Any, Any]]], *, force: bool = False) -> None:
        """Nothing: see the class docstring."""


class FannedStep(NewestFirst):
    """One job's share of a step: list its rooms new to this step, read their sessions of the step."""

    def __init__(self, ctx: RunContext, rooms: list[dict[str, Any]], step: Step) -> None:
        work = [RoomWork(**{k: v for k, v in room.items() if k != "first"}) for room in rooms]
        resumed = (ctx.run.checkpoint or {}).get("resumed_since")
        since = datetime.fromisoformat(resumed) if isinstance(resumed, str) else None
        super().__init__(ctx, work, _previous_complete_from(ctx.run, since))
        self.estimate = _Unwritten(ctx, self.rooms)
        self.first = {room["room_pk"] for room in rooms if room["first"]}
        self.step = step
        self.troubled = set((ctx.run.checkpoint or {}).get(TROUBLED_ROOMS) or []) & set(self.rooms)
        self.troubled_before = set(self.troubled)
        self.unlisted = set((ctx.run.checkpoint or {}).get(UNLISTED_ROOMS) or []) & set(self.rooms)
        self.unlisted_before = set(self.unlisted)

    def run_step(self) -> None:
        """Read the step's sessions of the job's rooms, fetch their details, mark the rooms done."""
        trouble_before = self.ctx.trouble
        # Rooms listed in this step have their first session pages fetched ahead, as in one process.
        listing = [work for pk, work in self.rooms.items() if pk in self.first]
        with fetching_ahead(self.ctx, listing) as ahead:
            for work, first_page in ahead:
                self.pending[work.room_pk] = list(
                    self._list_sessions(work, first_page) if work.refresh else []
                )
                self.ctx.flush()
        for pk, work in self.rooms.items():
            if pk not in self.first and work.refresh and pk not in self.unlisted:
                left = self._stored_pending(work)
                if left:
                    self.pending[pk] = list(left)
        self._read_sessions_since(self.step.cutoff)
        targets = pending_details(self.ctx, self.ctx.run.details_policy, room_pks=list(self.rooms))
        if self.step.cutoff is not None:
            targets = targets.filter(room_session__started_at__gte=self.step.cutoff)
        sync_details(self.ctx, iter_detail_targets(targets))
        self._mark_complete_rooms()
        self._record_trouble(self.ctx.trouble != trouble_before)
        self.ctx.flush(force=True)

    def _list_sessions(
        self, work: RoomWork, first_page: Page | Exception | None = None
    ) -> list[tuple[Any, SessionRef]]:
        """The room's sessions, listed in its first step; a failed listing is remembered."""
        listed = super()._list_sessions(work, first_page)
        if work.room_pk in self.troubled - self.troubled_before:
            self.unlisted.add(work.room_pk)
        return listed

    def _stored_pending(self, work: RoomWork) -> list[tuple[Any, SessionRef]]:
        """The room's sessions listed by an earlier step and left for this one or later ones (those
        a resumed run had read, unchanged since, skipped as when they were listed)."""
        upper = self.step.upper
        rows = RoomSession.objects.filter(room_id=work.room_pk)
        if upper is not None:
            rows = rows.filter(Q(started_at__lt=upper) | Q(started_at__isnull=True))
        done = self.previous_complete_from
        left = []
        for pk, session_id, raw, synced, started, ended in rows.values_list(
            "pk", "room_session_id", "raw", "participants_synced_signature", "started_at", "ended_at"
        ).iterator(chunk_size=1000):
            fingerprint = signature(raw)
            if (
                done is not None
                and started is not None
                and started >= done
                and synced == fingerprint
                and ended
            ):
                continue
            left.append((started, SessionRef(pk, session_id, fingerprint, work.room_pk, False, ended)))
        return left

    def _record_trouble(self, step_trouble: bool) -> None:
        """Rooms that failed stay unmarked in later steps; any trouble keeps later steps unmarked."""
        new, unlisted = self.troubled - self.troubled_before, self.unlisted - self.unlisted_before
        if new or unlisted or step_trouble:
            note_step_trouble(self.ctx.run.pk, rooms=new, unlisted=unlisted, any_trouble=step_trouble)


def note_step_trouble(
    run_id: int,
    *,
    rooms: set[int] | frozenset[int] = frozenset(),
    unlisted: set[int] | frozenset[int] = frozenset(),
    any_trouble: bool = True,
) -> None:
    """Record rooms that failed (never marked complete later), those whose listing failed, and
    whether a step had trouble."""
    with transaction.atomic():
        run = SyncRun.objects.select_for_update().only("checkpoint").get(pk=run_id)
        checkpoint = dict(run.checkpoint or {})
        for key, pks in ((TROUBLED_ROOMS, rooms), (UNLISTED_ROOMS, unlisted)):
            checkpoint[key] = sorted(set(checkpoint.get(key) or []) | pks)
        checkpoint[STEP_TROUBLE] = bool(checkpoint.get(STEP_TROUBLE) or any_trouble)
        SyncRun.objects.filter(pk=run_id).update(checkpoint=checkpoint)


def fill_step(ctx: RunContext, rooms: list[dict[str, Any]], step: Step) -> None:
    """A fan-out job's share of one step (see the module docstring)."""
    FannedStep(ctx, rooms, step).run_step()


def mark_step(run_id: int, step: Step, *, jobs_finished: bool) -> bool:
    """Once every job of a step has finished: say from when the history is complete, unless a job
    failed or any step had trouble (a job that ran out of time, a room or a session that failed)."""
    run = SyncRun.objects.get(pk=run_id)
    checkpoint = run.checkpoint or {}
    if not jobs_finished or run.status != SyncStatus.RUNNING or run.cancel_requested:
        return False
    if checkpoint.get(STEP_TROUBLE):
        return False
    run.merge_checkpoint(complete_from=step.cutoff.isoformat() if step.cutoff else ALL_HISTORY)
    return True
