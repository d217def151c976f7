"""Many rooms as one stream of fetches: the participants of the next rooms' sessions are in flight
while the sync's thread stores the rooms before them, so the calls in flight never drain at a room.

Rooms are still finished in order: a room's details are fetched and its completion mark gathered
(stored with its rows, see ``batching``) only after every one of its sessions has been handled.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import Any

from ..errors import FATAL_ERRORS, OUTAGE_ERRORS, WherebyError, safe_error
from .backend import RoomWork
from .batching import (
    ParticipantBuffer,
    fetch_session_participants,
    fetching_ahead,
    gather_one,
    participants_ahead,
)
from .context import Cancelled, RunContext
from .details import iter_detail_targets, pending_details, sync_details
from .stages import RoomRef, SessionRef, sync_room_sessions

logger = logging.getLogger(__name__)


@contextmanager
def room_failures(ctx: RunContext, room_name: str) -> Iterator[None]:
    """A room's failure is recorded and the run goes on; a cancel, a refused key, an outage or the
    job running out of time end the run."""
    try:
        yield
    except (Cancelled, *FATAL_ERRORS, *OUTAGE_ERRORS):
        raise
    except WherebyError as exc:
        ctx.problem(f"room {room_name}: {safe_error(exc)}")
    except Exception as exc:
        if ctx.backend.is_timeout(exc):
            raise
        # Not the API's doing (a database refusing a value, a bug): keep the other rooms going.
        logger.exception("sync run %s: room %s failed", ctx.run.pk, room_name)
        ctx.problem(f"room {room_name}: unexpected {safe_error(exc)}")


@dataclass
class _Room:
    work: RoomWork
    trouble: int = 0  # skipped items and failures of this room: any keeps it from being marked complete


def work_on_rooms(ctx: RunContext, work: list[RoomWork], buffer: ParticipantBuffer) -> None:
    """Sessions, participants and details of the rooms, in order, with up to FETCH_CONCURRENCY calls
    in flight across room boundaries; each room's failure is recorded and the others go on."""
    client = ctx.client

    def fetch(pair: tuple[_Room, SessionRef | None]) -> Any:
        return None if pair[1] is None else fetch_session_participants(client, pair[1])

    with fetching_ahead(ctx, work) as rooms:
        outcomes = client.in_parallel(
            fetch,
            _sessions_of(ctx, rooms),
            stop_on=(*FATAL_ERRORS, *OUTAGE_ERRORS),
            ahead=participants_ahead(lambda pair: pair[1]),
        )
        with closing(outcomes):
            for (room, session), outcome in outcomes:
                if session is None:
                    finish_room(ctx, room, buffer)
                else:
                    before = ctx.trouble
                    with room_failures(ctx, room.work.room_name):
                        gather_one(ctx, buffer, session, outcome, room.work.room_name)
                    room.trouble += ctx.trouble - before
                ctx.flush()


def _sessions_of(
    ctx: RunContext, ahead: Iterator[tuple[RoomWork, Any]]
) -> Iterator[tuple[_Room, SessionRef | None]]:
    """Each room's sessions to fetch participants for (its session pages stored on the way), then
    ``(room, None)``: everything of the room has been handed out."""
    for work, first_page in ahead:
        room = _Room(work)
        sessions: list[SessionRef] = []
        before = ctx.trouble
        if work.refresh:
            with room_failures(ctx, work.room_name):
                if isinstance(first_page, Exception):
                    raise first_page
                ref = RoomRef(work.room_pk, work.room_name, work.signature, work.is_new)
                sessions = sync_room_sessions(ctx, ref, force=work.force, first_page=first_page)
        room.trouble += ctx.trouble - before
        for session in sessions:
            yield room, session
        yield room, None


def finish_room(ctx: RunContext, room: _Room, buffer: ParticipantBuffer) -> None:
    """A room whose sessions are all handled: its details, then its completion mark (with its rows)."""
    work = room.work
    before = ctx.trouble
    with room_failures(ctx, work.room_name):
        if ctx.run.details_policy != "none":
            buffer.flush()  # the room's participants are read back to pick the connections needing details
            sync_details(
                ctx,
                iter_detail_targets(pending_details(ctx, ctx.run.details_policy, room_pks=[work.room_pk])),
            )
        if work.refresh and room.trouble == 0 and ctx.trouble == before:
            marks = {"sessions_synced_signature": work.signature, "sessions_synced_at": ctx.now}
            if work.force:
                marks["full_synced_at"] = ctx.now  # what a resumed full run may skip
            buffer.mark_room(work.room_pk, marks)
    ctx.progress(done=1)
