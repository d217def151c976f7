"""The four fetch-and-store steps of a sync: rooms, a room's sessions, a session's participants, details."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..models import Participant, Room, RoomSession
from ..privacy.hooks import protect_participant_rows
from ..privacy.pseudonyms import pseudonym
from ..whereby.pages import Page
from .context import RunContext, page_transaction
from .items import (
    PARTICIPANT_FIELDS,
    ROOM_FIELDS,
    SESSION_FIELDS,
    BadItem,
    ParsedItem,
    parse_item,
    seconds_between,
    without_nul,
)
from .upsert import UpsertResult, upsert_rows

logger = logging.getLogger(__name__)

ROOM_COMPARE = (*(c for _, c, k in ROOM_FIELDS if k != "id"), "raw", "missing_since")
SESSION_COMPARE = (*(c for _, c, k in SESSION_FIELDS if k != "id"), "room_id", "duration_seconds", "raw")
PARTICIPANT_COLUMNS = tuple(
    c for a, c, _ in PARTICIPANT_FIELDS if a not in ("roomSessionId", "participantId")
)
PARTICIPANT_COMPARE = (*PARTICIPANT_COLUMNS, "room_id", "identity", "duration_seconds", "raw")


# (session pk, room pk, session end) for the participants of a session.
SessionKeys = tuple[int, int, "datetime | None"]


@dataclass(frozen=True)
class RoomRef:
    """A stored room and the fingerprint of the API item it was last seen as."""

    pk: int
    room_name: str
    signature: str
    is_new: bool = False  # created by this run: none of its sessions is stored yet


@dataclass(frozen=True, slots=True)
class SessionRef:
    """A stored session whose participants are to be fetched, and its fingerprint."""

    pk: int
    room_session_id: str
    signature: str
    room_pk: int
    is_new: bool = False
    ended_at: datetime | None = None
    started_at: datetime | None = None
    people: float | None = None  # totalUniqueParticipants, for the estimate of what is left


def parse_items(items: list[Any], fields: tuple) -> tuple[list[ParsedItem], list[str]]:
    """The items that can be stored, and the reason each other one cannot (no context: any thread)."""
    parsed = []
    skipped = []
    for item in items:
        try:
            parsed.append(parse_item(item, fields))
        except BadItem as exc:
            skipped.append(str(exc))
    return parsed, skipped


def record_parsing(ctx: RunContext, model: str, skipped: list[str], notes: Iterable[str]) -> None:
    """Count the skipped items and the values stored as null or cut short on the run."""
    for reason in skipped:
        ctx.skip(model, reason)
    for note in notes:
        ctx.note(model, note)


def _parse_page(ctx: RunContext, model: str, items: list[Any], fields: tuple) -> list[ParsedItem]:
    parsed, skipped = parse_items(items, fields)
    record_parsing(ctx, model, skipped, (note for p in parsed for note in p.notes))
    return parsed


# Rooms ------------------------------------------------------------------------------------------


def store_room_page(ctx: RunContext, page: Page) -> list[RoomRef]:
    """Upsert one page of rooms in one transaction; returns the rooms with their fingerprints."""
    parsed = _parse_page(ctx, "rooms", page.items, ROOM_FIELDS)
    rows = [{**p.values, "raw": p.raw, "missing_since": None} for p in parsed]
    with page_transaction():
        result = upsert_rows(Room, rows, key_fields=("room_name",), compare_fields=ROOM_COMPARE, now=ctx.now)
    ctx.count("rooms", result)
    return [
        RoomRef(
            result.pks[(p.values["room_name"],)],
            p.values["room_name"],
            p.signature,
            (p.values["room_name"],) in result.created_keys,
        )
        for p in parsed
    ]


def list_rooms(ctx: RunContext, **filters: str) -> tuple[list[RoomRef], set[str] | None]:
    """Every room the API lists, each page stored as it arrives; also every name listed at all
    (a room skipped for a bad field is still there, and must not be marked missing).

    The names are None when the listing cannot be trusted to be complete: an item without a
    readable name could be any stored room (a page of nothing but invalid items, typically).
    """
    refs: dict[str, RoomRef] = {}
    listed: set[str] = set()
    complete = True
    for page in ctx.client.iter_room_pages(**filters):
        for item in page.items:
            # Normalised as parse_item stores names (numbers as text, NUL removed).
            name = item.get("roomName") if isinstance(item, dict) else None
            if isinstance(name, (str, int, float)) and not isinstance(name, bool) and str(name).strip():
                listed.add(without_nul(str(name)))
            else:
                complete = False
        for ref in store_room_page(ctx, page):
            refs[ref.room_name] = ref
        ctx.flush()
    return list(refs.values()), (listed if complete else None)


def mark_missing_rooms(ctx: RunContext, seen: Iterable[str] | None) -> int:
    """Rooms a complete listing no longer contains are kept and marked missing since now.

    ``seen`` None (an incomplete listing) marks nothing: no room is known to be gone.
    """
    if seen is None:
        logger.warning("sync run %s: the room listing had unnamed items; no room marked missing", ctx.run.pk)
        return 0
    seen_names = set(seen)
    missing = [
        pk
        for pk, name in Room.objects.filter(missing_since__isnull=True)
        .values_list("pk", "room_name")
        .iterator()
        if name not in seen_names
    ]
    marked = 0
    for start in range(0, len(missing), 500):
        marked += Room.objects.filter(pk__in=missing[start : start + 500]).update(missing_since=ctx.now)
    return marked


# Sessions ---------------------------------------------------------------------------------------


def sync_room_sessions(
    ctx: RunContext,
    room: RoomRef,
    *,
    room_session_id: str | None = None,
    force: bool = False,
    first_page: Page | None = None,
) -> list[SessionRef]:
    """Fetch a room's sessions page by page (after ``first_page`` when it was fetched ahead); returns
    the sessions whose participants need fetching."""
    todo: list[SessionRef] = []
    client = ctx.client
    pages: Iterable[Page] = (
        client.iter_room_session_pages(room.room_name, room_session_id=room_session_id)
        if first_page is None
        else _pages_after(ctx, room, first_page)
    )
    for page in pages:
        todo.extend(store_session_page(ctx, room, page, force=force))
        ctx.flush()
    return todo


def _pages_after(ctx: RunContext, room: RoomRef, first: Page) -> Iterator[Page]:
    yield first
    if first.next_cursor:
        yield from ctx.client.iter_room_session_pages(room.room_name, cursor=first.next_cursor)


def store_session_page(ctx: RunContext, room: RoomRef, page: Page, *, force: bool) -> list[SessionRef]:
    """Upsert one page of sessions; pick those that are new, changed, ongoing or inside the lookback."""
    return store_session_pages(ctx, [(room, page)], force=force)[0]


def store_session_pages(
    ctx: RunContext, pages: list[tuple[RoomRef, Page]], *, force: bool
) -> list[list[SessionRef]]:
    """Upsert pages of sessions of several rooms in one statement and one transaction (a room's
    sessions often fit one page: one upsert a room was a commit a room); each room's picks, in order."""
    parsed_by_room = []
    rows = []
    for room, page in pages:
        parsed = _parse_page(ctx, "sessions", page.items, SESSION_FIELDS)
        parsed_by_room.append(parsed)
        for p in parsed:
            values = {**p.values, "room_id": room.pk, "raw": p.raw}
            values["room_name"] = values["room_name"] if values["room_name"] is not None else room.room_name
            values["duration_seconds"] = seconds_between(values["started_at"], values["ended_at"])
            rows.append(values)
    with page_transaction():
        result = upsert_rows(
            RoomSession,
            rows,
            key_fields=("room_session_id",),
            compare_fields=SESSION_COMPARE,
            now=ctx.now,
            # Rooms this run created have no sessions stored to read first.
            assume_new=all(room.is_new for room, _page in pages),
        )
    ctx.count("sessions", result)
    if not rows:
        return [[] for _ in pages]
    # Sessions this upsert created have no participants synced yet: only the others are read back.
    held = [pk for key, pk in result.pks.items() if key not in result.created_keys]
    synced = (
        dict(RoomSession.objects.filter(pk__in=held).values_list("pk", "participants_synced_signature"))
        if held
        else {}
    )
    recent = ctx.now - ctx.lookback
    picked = []
    for (room, _page), parsed in zip(pages, parsed_by_room, strict=True):
        todo = []
        for p in parsed:
            pk = result.pks[(p.values["room_session_id"],)]
            ended = p.values["ended_at"]
            if force or synced.get(pk) != p.signature or ended is None or ended >= recent:
                is_new = (p.values["room_session_id"],) in result.created_keys
                todo.append(
                    SessionRef(
                        pk,
                        p.values["room_session_id"],
                        p.signature,
                        room.pk,
                        is_new,
                        ended,
                        p.values["started_at"],
                        p.values["total_unique_participants"],
                    )
                )
        picked.append(todo)
    return picked


# Participants -----------------------------------------------------------------------------------


def person_identity(values: dict[str, Any]) -> str:
    """The key reports count people by: the pseudonym of externalId, else userId, else deviceId, else
    participantId (a pseudonym from the start, so retention never changes who counts as whom)."""
    for column in ("external_id", "user_id", "device_id", "participant_id"):
        if values.get(column):
            return pseudonym(values[column])
    return ""


def participant_rows(parsed: list[ParsedItem], sessions: dict[str, SessionKeys]) -> list[dict[str, Any]]:
    """Participant column values of parsed items, keyed to their stored sessions (no database)."""
    rows = []
    for p in parsed:
        values = {c: p.values[c] for c in PARTICIPANT_COLUMNS}
        values["room_session_id"], values["room_id"], session_ended = sessions[p.values["room_session_id"]]
        values["participant_id"] = p.values["participant_id"]
        values["identity"] = person_identity(values)
        # No leftAt in a session that has ended: the connection lasted until the session's end at
        # most, so it does not count as "still connected" for ever.
        values["duration_seconds"] = seconds_between(values["joined_at"], values["left_at"] or session_ended)
        values["raw"] = p.raw
        rows.append(values)
    return rows


def store_participant_page(
    ctx: RunContext,
    page: Page,
    sessions: dict[str, SessionKeys],
    *,
    count_unknown_sessions: bool = True,
    assume_new: bool = False,
) -> list[int]:
    """Upsert one page of participants; ``sessions`` maps session ids to (session pk, room pk, ended_at)."""
    parsed = []
    for p in _parse_page(ctx, "participants", page.items, PARTICIPANT_FIELDS):
        if p.values["room_session_id"] in sessions:
            parsed.append(p)
        elif count_unknown_sessions:
            ctx.skip("participants", "session not stored yet (sync its room)")
    rows = participant_rows(parsed, sessions)
    with page_transaction():
        result = upsert_participant_rows(ctx, rows, assume_new=assume_new)
    ctx.count("participants", result)
    return list(result.pks.values())


def upsert_participant_rows(ctx: RunContext, rows: list[dict], *, assume_new: bool) -> UpsertResult:
    """Store participant rows (inside the caller's transaction), the privacy rules applied first."""
    # privacy: no names back, forgotten stay so
    rows = protect_participant_rows(rows, ctx.now, sessions_are_new=assume_new)
    return upsert_rows(
        Participant,
        rows,
        key_fields=("room_session_id", "participant_id"),
        compare_fields=PARTICIPANT_COMPARE,
        now=ctx.now,
        assume_new=assume_new,  # a session created by this run has no participants stored yet
    )


def sync_external_id_participants(
    ctx: RunContext, external_id: str, *, final: bool = True
) -> tuple[list[int], set[str]]:
    """Participants of one external id across sessions; returns stored pks and unknown session ids.

    Unless ``final``, items of sessions we do not hold yet are left for a second pass, not counted.
    """
    stored: list[int] = []
    unknown: set[str] = set()
    for page in ctx.client.iter_participant_pages(external_id=external_id):
        ids: set[Any] = {i.get("roomSessionId") for i in page.items if isinstance(i, dict)}
        ids = {i for i in ids if isinstance(i, str)}
        known = {
            sid: (pk, room_pk, ended_at)
            for sid, pk, room_pk, ended_at in RoomSession.objects.filter(room_session_id__in=ids).values_list(
                "room_session_id", "pk", "room_id", "ended_at"
            )
        }
        unknown |= ids - set(known)
        stored.extend(store_participant_page(ctx, page, known, count_unknown_sessions=final))
        ctx.flush()
    return stored, unknown
