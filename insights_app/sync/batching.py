"""Participants of many sessions fetched a few at a time and stored in batches, completion marks last.

The participants of one session are a page of about five rows: upserting each page in its own
transaction made the sync wait on the database more than on the API. Here the pages of whole
sessions are gathered in a bounded buffer and stored in one set-based upsert and one transaction,
together with the marks that say a session (and a room) is complete, which are therefore never
written before its rows. A crash loses at most the buffer: its sessions carry no mark, so the next
run fetches them again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import Any

from ..errors import FATAL_ERRORS, OUTAGE_ERRORS, WherebyError, safe_error
from ..models import Room, RoomSession
from ..privacy.bulk import update_by_pk
from ..whereby.client import WherebyClient
from ..whereby.fetchpool import Ahead
from ..whereby.pages import Page
from .backend import RoomWork
from .context import Cancelled, RunContext, page_transaction
from .stages import (
    PARTICIPANT_FIELDS,
    SessionRef,
    parse_items,
    participant_rows,
    record_parsing,
    upsert_participant_rows,
)

logger = logging.getLogger(__name__)

# Rows gathered before they are written: memory stays flat, a crash loses at most this many.
BATCH_ROWS = 1000
# Participant rows fetched, or being fetched, ahead of the session the sync's thread stores: a few
# batches, so the fetch threads keep going while a batch is written (with AHEAD sessions a thread,
# they sat idle for most of each write); memory is bounded by rows whatever the organisation's size
# (bench/RESULTS.md, issue 28).
AHEAD_ROWS = 2 * BATCH_ROWS


def expected_rows(session: SessionRef | None) -> float:
    """The participant rows a session's fetch will hold: the people the API counted in it."""
    return 1.0 if session is None or not session.people else float(session.people)


def participants_ahead(session_of: Callable[[Any], SessionRef | None]) -> Ahead[Any]:
    """The read-ahead of a stream of items that hold sessions (``session_of`` finds each one's)."""
    return Ahead(lambda item: expected_rows(session_of(item)), AHEAD_ROWS)


@dataclass
class FetchedSession:
    """A session's participants as rows ready to store, with what could not be read of them."""

    rows: list[dict[str, Any]]
    skipped: list[str]  # why each item that cannot be stored cannot
    notes: list[str]  # values stored as null or cut short


def fetch_session_participants(client: WherebyClient, session: SessionRef) -> FetchedSession:
    """Every page of a session's participants, parsed into rows (no database: runs in a fetch thread,
    so the sync's thread, which stores, does not also parse)."""
    keys = {session.room_session_id: (session.pk, session.room_pk, session.ended_at)}
    fetched = FetchedSession([], [], [])
    for page in client.iter_participant_pages(room_session_id=session.room_session_id):
        # The session we asked about owns the items, whatever their own roomSessionId says.
        items = [
            {**item, "roomSessionId": session.room_session_id} if isinstance(item, dict) else item
            for item in page.items
        ]
        parsed, skipped = parse_items(items, PARTICIPANT_FIELDS)
        fetched.rows.extend(participant_rows(parsed, keys))
        fetched.skipped.extend(skipped)
        fetched.notes.extend(note for p in parsed for note in p.notes)
    return fetched


class ParticipantBuffer:
    """Rows of whole sessions and the completion marks that follow them, stored in one transaction."""

    def __init__(self, ctx: RunContext, limit: int = BATCH_ROWS) -> None:
        self.ctx = ctx
        self.limit = limit
        self._rows: dict[bool, list[dict[str, Any]]] = {True: [], False: []}  # by "session is new"
        self._sessions: dict[int, str] = {}  # session pk -> signature, complete once stored
        self._rooms: list[tuple[int, dict[str, Any]]] = []

    def __len__(self) -> int:
        return len(self._rows[True]) + len(self._rows[False])

    def add(self, session: SessionRef, fetched: FetchedSession) -> None:
        """Gather every row of one session; it is marked complete when stored, unless an item was skipped."""
        ctx = self.ctx
        trouble_before = ctx.trouble
        record_parsing(ctx, "participants", fetched.skipped, fetched.notes)
        self._rows[session.is_new].extend(fetched.rows)
        if ctx.trouble == trouble_before:
            self._sessions[session.pk] = session.signature
        if len(self) >= self.limit:
            self.flush()

    def mark_room(self, room_pk: int, marks: dict[str, Any]) -> None:
        """Record a room as complete once everything gathered so far is stored."""
        self._rooms.append((room_pk, marks))
        if not len(self):
            self.flush()

    def flush(self) -> None:
        """Store the rows, then the marks, in one transaction."""
        if not (len(self) or self._sessions or self._rooms):
            return
        ctx = self.ctx
        try:
            self._store(ctx)
        finally:
            # Stored, or lost with the transaction: either way no mark was written without its rows,
            # and what was lost is fetched again by the next run.
            self._rows = {True: [], False: []}
            self._sessions = {}
            self._rooms = []

    def _store(self, ctx: RunContext) -> None:
        with page_transaction():
            for assume_new, rows in self._rows.items():
                if not rows:
                    continue
                result = upsert_participant_rows(ctx, rows, assume_new=assume_new)
                ctx.count("participants", result)
            if self._sessions:
                update_by_pk(
                    RoomSession,
                    [{"pk": pk, "participants_synced_signature": s} for pk, s in self._sessions.items()],
                    ["participants_synced_signature"],
                )
            # The rooms' marks in one statement per set of columns, not one per room.
            by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for room_pk, marks in self._rooms:
                by_columns.setdefault(tuple(sorted(marks)), []).append({"pk": room_pk, **marks})
            for columns, rows in by_columns.items():
                update_by_pk(Room, rows, columns)


def first_session_page(client: WherebyClient, work: RoomWork) -> Page | None:
    """The first page of a room's sessions (HTTP only: runs in a fetch thread); None when not refreshed."""
    if not work.refresh:
        return None
    return next(iter(client.iter_room_session_pages(work.room_name)))


@contextmanager
def fetching_ahead(
    ctx: RunContext, work: Iterable[RoomWork]
) -> Iterator[Iterator[tuple[RoomWork, Page | Exception | None]]]:
    """Each room with the first page of its sessions, fetched ahead by the pool while the rooms before
    it are worked on, so the calls in flight do not drain at every room."""
    client = ctx.client
    ahead = client.in_parallel(
        lambda item: first_session_page(client, item), work, stop_on=(*FATAL_ERRORS, *OUTAGE_ERRORS)
    )
    with closing(ahead):
        yield ahead


@contextmanager
def gathering(ctx: RunContext) -> Iterator[ParticipantBuffer]:
    """A buffer for a loop over rooms, stored at the end; after an error what is whole is still stored."""
    buffer = ParticipantBuffer(ctx)
    try:
        yield buffer
    except BaseException:
        try:
            buffer.flush()
        except Exception:  # the original error is the one to report; the next run fetches these again
            logger.exception("sync run %s: could not store the last batch of participants", ctx.run.pk)
        raise
    buffer.flush()


def sync_session_participants(ctx: RunContext, session: SessionRef) -> None:
    """Fetch and store every participant of one session, then mark it complete (if nothing was skipped)."""
    buffer = ParticipantBuffer(ctx)
    buffer.add(session, fetch_session_participants(ctx.client, session))
    buffer.flush()


def fetch_and_gather(
    ctx: RunContext, buffer: ParticipantBuffer, sessions: Iterable[SessionRef], room_name: str
) -> None:
    """Fetch the sessions' participants a few at a time (FETCH_CONCURRENCY) into ``buffer``, in order.

    A session the API cannot answer for is recorded as a problem (left unmarked) and the others go on.
    """
    outcomes: Generator[tuple[SessionRef, FetchedSession | Exception], None, None] = ctx.client.in_parallel(
        lambda session: fetch_session_participants(ctx.client, session),
        sessions,
        stop_on=(*FATAL_ERRORS, *OUTAGE_ERRORS),
    )
    with closing(outcomes):
        for session, outcome in outcomes:
            gather_one(ctx, buffer, session, outcome, room_name)
            ctx.flush()


def gather_one(
    ctx: RunContext,
    buffer: ParticipantBuffer,
    session: SessionRef,
    outcome: FetchedSession | Exception,
    room_name: str,
) -> None:
    """Gather one session's fetched pages; a session the API could not answer for is a problem
    (left unmarked, the others go on), an outage or a cancel ends the run."""
    if isinstance(outcome, (Cancelled, *FATAL_ERRORS, *OUTAGE_ERRORS)):
        raise outcome
    if isinstance(outcome, WherebyError):
        ctx.problem(f"session {session.room_session_id} of room {room_name}: {safe_error(outcome)}")
    elif isinstance(outcome, Exception):
        raise outcome
    else:
        buffer.add(session, outcome)
