"""A full sync worked on in one process fills the newest history first: the last 7 days complete,
then the last 30, then the rest, and says after each step from which date the history is complete."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from ..errors import FATAL_ERRORS, OUTAGE_ERRORS, WherebyError, safe_error
from ..models import Room, RoomSession, SyncKind, SyncRun
from ..privacy.bulk import update_by_pk
from ..whereby.pages import Page
from .backend import RoomWork
from .batching import BATCH_ROWS, fetch_session_participants, fetching_ahead, gathering, participants_ahead
from .context import Cancelled, RunContext
from .details import iter_detail_targets, pending_details, sync_details
from .estimate import Estimator
from .items import signature
from .later_sessions import DueSessions, LaterSession, SessionQueue, is_due
from .stages import RoomRef, SessionRef, store_session_pages, sync_room_sessions

logger = logging.getLogger(__name__)

HORIZON_DAYS = (7, 30)
# What the checkpoint's ``complete_from`` says once the whole history is stored.
ALL_HISTORY = "all"
# Sessions listed for a later step are read back from the database this many at a time.
_CHUNK = 500


def horizons(now: datetime) -> list[datetime | None]:
    """The cutoffs of the steps, newest first; None is the whole history."""
    return [now - timedelta(days=days) for days in HORIZON_DAYS] + [None]


class NewestFirst:
    """The state of one newest-first pass: sessions listed but not yet read, rooms with trouble."""

    def __init__(
        self, ctx: RunContext, work: list[RoomWork], previous_complete_from: datetime | None
    ) -> None:
        self.ctx = ctx
        self.rooms = {w.room_pk: w for w in work}
        self.estimate = Estimator(ctx, self.rooms)
        self.last_started = self.estimate.last_started
        self.previous_complete_from = previous_complete_from
        # Each listed room's sessions still to read (a SessionQueue, or a list of refs in a fanned step).
        self.pending: dict[int, SessionQueue | list[tuple[Any, SessionRef]]] = {}
        self.troubled: set[int] = set()
        self.completed: set[int] = set()

    def run(self) -> None:
        """Every step: list the rooms active since its cutoff, read their sessions since it, mark."""
        trouble_before = self.ctx.trouble
        self.estimate.write(self.pending, force=True)
        for cutoff in horizons(self.ctx.now):
            self._list_rooms_since(cutoff)
            self._read_sessions_since(cutoff)
            self.estimate.write(self.pending, force=True)
            targets = pending_details(self.ctx, self.ctx.run.details_policy, room_pks=list(self.pending))
            if cutoff is not None:
                targets = targets.filter(room_session__started_at__gte=cutoff)
            sync_details(self.ctx, iter_detail_targets(targets))
            self.estimate.details_fetched()
            self._mark_complete_rooms()
            self.estimate.write(self.pending, force=True)
            if self.ctx.trouble == trouble_before:
                self.ctx.run.merge_checkpoint(complete_from=cutoff.isoformat() if cutoff else ALL_HISTORY)
            self.ctx.flush(force=True)

    def _active_since(self, pk: int, cutoff: datetime | None) -> bool:
        last = self.last_started.get(pk)
        return cutoff is None or (last is not None and last >= cutoff)

    def _list_rooms_since(self, cutoff: datetime | None) -> None:
        newest = sorted(
            self.rooms.values(),
            key=lambda w: (
                self.last_started.get(w.room_pk) or datetime.min.replace(tzinfo=self.ctx.now.tzinfo)
            ),
            reverse=True,
        )
        due = [w for w in newest if w.room_pk not in self.pending and self._active_since(w.room_pk, cutoff)]
        # The first page of each room's sessions is fetched ahead, FETCH_CONCURRENCY at once, and stored
        # here room after room: at a real API's latency, one listing at a time left most of the budget
        # unused (bench/RESULTS.md, comment figures).
        # Rooms whose sessions fit their first page are stored together, BATCH_ROWS sessions at a
        # time (one upsert and one commit a room was most of this step's time); the others page by page.
        group: list[tuple[RoomWork, Page]] = []
        with fetching_ahead(self.ctx, due) as ahead:
            for work, first_page in ahead:
                if work.refresh and isinstance(first_page, Page) and not first_page.next_cursor:
                    group.append((work, first_page))
                    if sum(len(page.items) for _work, page in group) >= BATCH_ROWS:
                        self._list_group(group, cutoff)
                        group = []
                    continue
                self._list_group(group, cutoff)  # in the order they came
                group = []
                listed = self._list_sessions(work, first_page) if work.refresh else []
                self.pending[work.room_pk] = SessionQueue(listed, cutoff)
                self.ctx.flush()
                self.estimate.write(self.pending)
            self._list_group(group, cutoff)

    def _list_group(self, group: list[tuple[RoomWork, Page]], cutoff: datetime | None) -> None:
        """Store the one page of sessions of each room in ``group`` in one upsert; queue their sessions."""
        if not group:
            return
        refs = [RoomRef(w.room_pk, w.room_name, w.signature, w.is_new) for w, _page in group]
        try:
            picked = store_session_pages(
                self.ctx, [(ref, page) for ref, (_w, page) in zip(refs, group, strict=True)], force=True
            )
        except (Cancelled, *FATAL_ERRORS, *OUTAGE_ERRORS):
            raise
        except Exception as exc:
            if len(group) == 1:
                self._failed(group[0][0], f"room {group[0][0].room_name}", exc)
                picked = [[]]
            else:  # one bad row fails its own room only: the group again, a room at a time
                picked = [
                    self._list_one(work, ref, page) for ref, (work, page) in zip(refs, group, strict=True)
                ]
        for (work, _page), sessions in zip(group, picked, strict=True):
            self.pending[work.room_pk] = SessionQueue(self._to_read(work, sessions), cutoff)
        self.ctx.flush()
        self.estimate.write(self.pending)

    def _list_one(self, work: RoomWork, ref: RoomRef, page: Page) -> list[Any]:
        """One room's page of sessions stored on its own (after its group's upsert failed)."""
        try:
            return store_session_pages(self.ctx, [(ref, page)], force=True)[0]
        except (Cancelled, *FATAL_ERRORS, *OUTAGE_ERRORS):
            raise
        except Exception as exc:
            self._failed(work, f"room {work.room_name}", exc)
            return []

    def _list_sessions(
        self, work: RoomWork, first_page: Page | Exception | None = None
    ) -> list[tuple[Any, SessionRef]]:
        """The room's sessions to read, each with its start (a resumed run skips those already read)."""
        try:
            if isinstance(first_page, Exception):
                raise first_page
            ref = RoomRef(work.room_pk, work.room_name, work.signature, work.is_new)
            refs = sync_room_sessions(self.ctx, ref, force=True, first_page=first_page)
        except (Cancelled, *FATAL_ERRORS, *OUTAGE_ERRORS):
            raise
        except Exception as exc:
            self._failed(work, f"room {work.room_name}", exc)
            return []
        return self._to_read(work, refs)

    def _to_read(self, work: RoomWork, refs: list[SessionRef]) -> list[tuple[Any, SessionRef]]:
        """The listed sessions still to read, each with its start (a resumed run skips those read)."""
        done = self.previous_complete_from
        before = (
            dict(
                RoomSession.objects.filter(room_id=work.room_pk).values_list(
                    "room_session_id", "participants_synced_signature"
                )
            )
            if done is not None
            else {}
        )
        # The refs carry the start and size just stored: no need to read them back.
        self.estimate.sessions_listed({r.pk: r.people or 0 for r in refs})
        return [
            (r.started_at, r)
            for r in refs
            if not (
                done is not None
                and r.started_at is not None
                and r.started_at >= done
                and before.get(r.room_session_id) == r.signature
                and r.ended_at is not None
            )
        ]

    def _resolved(
        self, due: Iterator[tuple[Any, SessionRef | LaterSession]]
    ) -> Iterator[tuple[Any, SessionRef]]:
        """The due sessions as refs, those listed for a later step read back from the database a chunk
        at a time (their fingerprint is that of the item stored; one deleted meanwhile is left out)."""
        while chunk := list(islice(due, _CHUNK)):
            later = [s.pk for _started, s in chunk if isinstance(s, LaterSession)]
            stored = {
                pk: (session_id, room_pk, ended, raw, people)
                for pk, session_id, room_pk, ended, raw, people in RoomSession.objects.filter(
                    pk__in=later
                ).values_list(
                    "pk", "room_session_id", "room_id", "ended_at", "raw", "total_unique_participants"
                )
            }
            for started, session in chunk:
                if isinstance(session, LaterSession):
                    if session.pk not in stored:
                        continue
                    session_id, room_pk, ended, raw, people = stored[session.pk]
                    session = SessionRef(
                        session.pk,
                        session_id,
                        signature(raw),
                        room_pk,
                        session.is_new,
                        ended,
                        started,
                        people,
                    )
                yield started, session

    def _read_sessions_since(self, cutoff: datetime | None) -> None:
        due = DueSessions()
        for pk, sessions in self.pending.items():
            if isinstance(sessions, SessionQueue):
                sessions.take(cutoff, into=due)
                continue
            keep: list[tuple[Any, SessionRef]] = []
            for started, ref in sessions:
                if is_due(started, cutoff):
                    due.add(started, ref)
                else:
                    keep.append((started, ref))
            self.pending[pk] = keep
        # FETCH_CONCURRENCY sessions fetched at once, stored in batches with their completion marks
        # (rooms are marked only after the batch holding their last rows is stored, below).
        client = self.ctx.client
        fetched = client.in_parallel(
            lambda item: fetch_session_participants(client, item[1]),
            self._resolved(due.newest_first()),
            stop_on=(*FATAL_ERRORS, *OUTAGE_ERRORS),
            ahead=participants_ahead(lambda item: item[1]),
        )
        with gathering(self.ctx) as buffer, closing(fetched):
            for (started, session), outcome in fetched:
                try:
                    if isinstance(outcome, Exception):
                        raise outcome
                    buffer.add(session, outcome)
                    self.estimate.session_read(session.pk, started)
                    self.estimate.write(self.pending)
                except (Cancelled, *FATAL_ERRORS, *OUTAGE_ERRORS):
                    raise
                except Exception as exc:
                    work = self.rooms[session.room_pk]
                    self._failed(work, f"session {session.room_session_id} of room {work.room_name}", exc)
                self.ctx.flush()

    def _failed(self, work: RoomWork, what: str, exc: Exception) -> None:
        """Record a room's or session's failure and go on (a job timeout still ends the run)."""
        if self.ctx.backend.is_timeout(exc):
            raise exc
        if not isinstance(exc, WherebyError):
            # Not the API's doing (a database refusing a value, a bug): keep the other rooms going.
            logger.exception("sync run %s: %s failed", self.ctx.run.pk, what)
            what = f"{what}: unexpected"
        self.troubled.add(work.room_pk)
        self.ctx.problem(f"{what}: {safe_error(exc)}")

    def _mark_complete_rooms(self) -> None:
        """Rooms with nothing left to read are done: marked (when nothing failed) and counted."""
        marks: dict[bool, list[dict[str, Any]]] = {True: [], False: []}  # by "full_synced_at too"
        for pk, sessions in self.pending.items():
            if sessions or pk in self.completed:
                continue
            self.completed.add(pk)
            work = self.rooms[pk]
            if work.refresh and pk not in self.troubled:
                mark = {
                    "pk": pk,
                    "sessions_synced_signature": work.signature,
                    "sessions_synced_at": self.ctx.now,
                }
                marks[work.force].append({**mark, "full_synced_at": self.ctx.now} if work.force else mark)
            self.ctx.progress(done=1)
        # One statement per kind of mark, not one per room.
        for force, rows in marks.items():
            columns = [
                "sessions_synced_signature",
                "sessions_synced_at",
                *(["full_synced_at"] if force else []),
            ]
            update_by_pk(Room, rows, columns)


def fill_newest_first(ctx: RunContext, work: list[RoomWork], *, resume_since: datetime | None) -> None:
    """Work on a full run's rooms newest history first (see the module docstring)."""
    NewestFirst(ctx, work, _previous_complete_from(ctx.run, resume_since)).run()


def _previous_complete_from(run: SyncRun, resume_since: datetime | None) -> datetime | None:
    """From which date the resumed run had read every session (None: nothing to skip)."""
    if resume_since is None:
        return None
    last = (
        SyncRun.objects.finished()
        .filter(kind=SyncKind.FULL, started_at=resume_since)
        .exclude(pk=run.pk)
        .only("checkpoint")
        .first()
    )
    mark = (last.checkpoint or {}).get("complete_from") if last else None
    if not isinstance(mark, str) or mark == ALL_HISTORY:
        return None
    try:
        return datetime.fromisoformat(mark)
    except ValueError:
        return None
