"""The simulated organisation: ground truth in API shape, a movable clock, and a lock."""

from __future__ import annotations

import bisect
import json
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .details import detail_items
from .generator import Builder
from .model import Conn, Room, Session, totals_at
from .spec import DAY_MS, OrgSpec
from .timefmt import format_ms, to_datetime


class Organisation:
    """Rooms, sessions and connections as the API would show them at ``now``.

    Accessors return fresh API-shaped dicts; ``advance`` moves the clock (in live mode new
    sessions appear as their start passes). All methods are thread-safe.
    """

    def __init__(self, spec: OrgSpec, builder: Builder) -> None:
        self.spec = spec
        self._builder = builder
        self._lock = threading.RLock()
        self._now = builder.now0
        self._future_days = 0
        self._cache_now: int | None = None
        self._room_cache: dict[str, dict] = {}
        self._room_list: list[dict] | None = None
        self._session_cache: dict[str, list[dict]] = {}
        self._rooms_by_name = {room.name: room for room in builder.rooms}
        self._listeners: list[Callable[[int], None]] = []
        self._session_lags: dict[str, int] = {}

    # -- clock --------------------------------------------------------------------------------
    @property
    def now(self) -> datetime:
        """The organisation's current clock (aware UTC)."""
        return to_datetime(self._now)

    @property
    def now_ms(self) -> int:
        """The current clock in epoch milliseconds."""
        return self._now

    @property
    def _seen(self) -> int:
        """The instant the API shows: the clock minus the data lag (insights arrive late)."""
        return self._now - self.spec.lag_ms

    def _seen_of(self, session: Session) -> int:
        """The instant whose state the API serves for this session (its own lag, see OrgSpec)."""
        lag = self._session_lags.get(session.session_id)
        if lag is None:
            lag = self._session_lags[session.session_id] = self.spec.session_lag_ms(session.session_id)
        return self._now - lag

    @property
    def seen(self) -> datetime:
        """The instant whose state the API serves (``now`` minus ``spec.lag_minutes``)."""
        return to_datetime(self._seen)

    def advance(self, seconds: float) -> None:
        """Move the clock forward; sessions start and end, connections leave, totals follow."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._now += round(seconds * 1000)
            if self.spec.live:
                while self._builder.now0 + self._future_days * DAY_MS <= self._now:
                    self._builder.build_future_day(self._future_days)
                    self._future_days += 1
            self._cache_now = None
            now = self._now
        for listener in list(self._listeners):
            listener(now)  # outside the lock: a listener may read the organisation (webhooks)

    def add_listener(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(now_ms)`` after every move of the clock."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[int], None]) -> None:
        """Stop calling ``listener``."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    # -- ground truth -------------------------------------------------------------------------
    def room_items(self) -> list[dict]:
        """All rooms in the default order (createdAt, then roomName)."""
        return [dict(item) for item in self.room_item_views()]

    def room_item_views(self) -> list[dict]:
        """``room_items`` without the copies, for one page's worth of reading: never change them.

        Built once per instant: a listing of 25,000 rooms is 250 pages, and building every item
        again for each page made paging through them quadratic.
        """
        with self._lock:
            self._refresh()
            if self._room_list is None:
                rooms = sorted(self._builder.rooms, key=lambda r: (r.created, r.name))
                self._room_list = [self._room_item(room) for room in rooms]
            return list(self._room_list)

    def room_item(self, room_name: str) -> dict | None:
        """One room's item, or None for a room that does not exist."""
        with self._lock:
            room = self._rooms_by_name.get(room_name)
            return None if room is None else dict(self._room_item(room))

    def session_items(self, room_name: str) -> list[dict]:
        """Sessions of one room that have started, in start order ([] for an unknown room)."""
        with self._lock:
            self._refresh()
            room = self._rooms_by_name.get(room_name)
            if room is None:
                return []
            if room_name not in self._session_cache:
                self._session_cache[room_name] = [self._session_item(s) for s in self._visible(room)]
            return [dict(item) for item in self._session_cache[room_name]]

    def participant_items(self, room_session_id: str) -> list[dict]:
        """Connections of one session that have joined, in join order ([] if unknown)."""
        with self._lock:
            session = self._builder.sessions.get(room_session_id)
            if session is None:
                return []
            seen = self._seen_of(session)
            if session.start > seen:
                return []
            return [self._participant_item(session, c) for c in session.conns if c.joined <= seen]

    def participant_items_by_external_id(self, external_id: str) -> list[dict]:
        """Connections carrying ``externalId`` across all sessions, in join order."""
        with self._lock:
            pairs = self._builder.by_external_id.get(external_id, [])
            visible = sorted(
                ((s, c) for s, c in pairs if c.joined <= self._seen_of(s)),
                key=lambda p: (p[1].joined, p[1].participant_id),
            )
            return [self._participant_item(s, c) for s, c in visible]

    def detail_items(self, room_session_id: str, participant_id: str) -> list[dict]:
        """The detail array of one connection; KeyError if there is no such (visible) connection."""
        with self._lock:
            conn = self._find_conn(room_session_id, participant_id)
            session = self._builder.sessions[room_session_id]
            room = session.room
            now = self._seen_of(session)
        items = detail_items(self.spec.seed, conn, now, self.spec.max_samples)
        if room.stripped:
            for item in items:
                item["displayName"] = room.stripped_as
        return items

    def has_room(self, room_name: str) -> bool:
        """Whether a room of that name exists."""
        return room_name in self._rooms_by_name

    def stats(self) -> dict[str, int]:
        """How many rooms, started sessions and joined connections there are at ``now``."""
        with self._lock:
            sessions = [s for room in self._builder.rooms for s in self._visible(room)]
            connections = sum(1 for s in sessions for c in s.conns if c.joined <= self._seen_of(s))
            ongoing = sum(1 for s in sessions if s.end > self._seen_of(s))
            return {
                "rooms": len(self._builder.rooms),
                "sessions": len(sessions),
                "ongoing_sessions": ongoing,
                "connections": connections,
            }

    def dump_json(self, details: bool = True) -> str:
        """Everything the API would serve, as one canonical JSON document (for determinism checks)."""
        with self._lock:
            rooms = self.room_items()
            document: dict = {"now": format_ms(self._now), "rooms": rooms, "sessions": {}}
            for room in rooms:
                for session in self.session_items(room["roomName"]):
                    participants = self.participant_items(session["roomSessionId"])
                    document["sessions"][session["roomSessionId"]] = {
                        "session": session,
                        "participants": participants,
                        "details": {
                            p["participantId"]: self.detail_items(
                                session["roomSessionId"], p["participantId"]
                            )
                            for p in participants
                        }
                        if details
                        else {},
                    }
        return json.dumps(document, sort_keys=True, ensure_ascii=False)

    # -- internals ------------------------------------------------------------------------------
    def _refresh(self) -> None:
        """Drop cached items when the clock moved."""
        if self._cache_now != self._now:
            self._room_cache.clear()
            self._room_list = None
            self._session_cache.clear()
            self._cache_now = self._now

    def _visible(self, room: Room) -> list[Session]:
        """Sessions of a room that the API shows as started, each by its own lag."""
        index = bisect.bisect_right(room.sessions, self._now - self.spec.lag_ms, key=lambda s: s.start)
        sessions = room.sessions[:index]
        if self.spec.max_lag_ms == self.spec.lag_ms:
            return sessions
        # Only sessions started within the longest lag can differ from the shortest one's view.
        settled = bisect.bisect_right(sessions, self._now - self.spec.max_lag_ms, key=lambda s: s.start)
        return sessions[:settled] + [s for s in sessions[settled:] if s.start <= self._seen_of(s)]

    def _find_conn(self, room_session_id: str, participant_id: str) -> Conn:
        """The visible connection with these ids, or KeyError."""
        session = self._builder.sessions.get(room_session_id)
        if session is not None:
            for conn in session.conns:
                if conn.participant_id == participant_id and conn.joined <= self._seen_of(session):
                    return conn
        raise KeyError((room_session_id, participant_id))

    def _room_item(self, room: Room) -> dict:
        """A room's item with totals summed over its started sessions (cached per instant)."""
        self._refresh()
        cached = self._room_cache.get(room.name)
        if cached is not None:
            return cached
        sessions = self._visible(room)
        sums = [0] * 6
        for session in sessions:
            t = totals_at(session, self._seen_of(session))
            for i, value in enumerate(
                (
                    t.participant_minutes,
                    t.recorder_minutes,
                    t.streamer_minutes,
                    t.unique_participants,
                    t.unique_recorders,
                    t.unique_streamers,
                )
            ):
                sums[i] += value
        item: dict[str, Any] = {
            "roomName": room.name,
            "createdAt": format_ms(room.created),
            "endAt": format_ms(room.end_at),
            "firstSessionStartedAt": format_ms(sessions[0].start) if sessions else None,
            "lastSessionStartedAt": format_ms(sessions[-1].start) if sessions else None,
            "totalParticipantMinutes": sums[0],
            "totalRecorderMinutes": sums[1],
            "totalStreamerMinutes": sums[2],
            "totalUniqueParticipants": sums[3],
            "totalUniqueRecorders": sums[4],
            "totalUniqueStreamers": sums[5],
            "totalSessions": len(sessions),
        }
        if self.spec.ratings:
            last = totals_at(sessions[-1], self._seen_of(sessions[-1])) if sessions else None
            item["rating"] = last.rating if last else None
            item["totalRatings"] = last.total_ratings if last else None
        if room.extra:
            item.update(room.extra)
        self._room_cache[room.name] = item
        return item

    def _session_item(self, session: Session) -> dict:
        """A session's item with totals from its connections at now."""
        seen = self._seen_of(session)
        t = totals_at(session, seen)
        item: dict[str, Any] = {
            "roomSessionId": session.session_id,
            "roomName": session.room.name,
            "startedAt": format_ms(session.start),
            "endedAt": format_ms(session.end) if session.end <= seen else None,
            "totalParticipantMinutes": t.participant_minutes,
            "totalRecorderMinutes": t.recorder_minutes,
            "totalStreamerMinutes": t.streamer_minutes,
            "totalUniqueParticipants": t.unique_participants,
            "totalUniqueRecorders": t.unique_recorders,
            "totalUniqueStreamers": t.unique_streamers,
        }
        if self.spec.ratings:
            item["rating"] = t.rating
            item["totalRatings"] = t.total_ratings
        if session.extra:
            item.update(session.extra)
        return item

    def _participant_item(self, session: Session, conn: Conn) -> dict:
        """A connection's item; ratings show once the participant has left."""
        left = conn.left <= self._seen_of(session)
        item: dict[str, Any] = {
            "roomSessionId": session.session_id,
            "participantId": conn.participant_id,
            "deviceId": conn.device_id,
            "userId": conn.user_id,
            "roleName": conn.role,
            "displayName": session.room.stripped_as if session.room.stripped else conn.display_name,
            "joinedAt": format_ms(conn.joined),
            "leftAt": format_ms(conn.left) if left else None,
            "externalId": conn.external_id,
        }
        if self.spec.ratings:
            item["rating"] = conn.rating if left else None
            item["tags"] = list(conn.tags) if left and conn.tags else None
            item["comment"] = conn.comment if left else None
        if conn.extra:
            item.update(conn.extra)
        return item


def generate_organisation(spec: OrgSpec) -> Organisation:
    """Build the organisation described by ``spec`` (same spec, same data, byte for byte)."""
    builder = Builder(spec)
    builder.build_history()
    return Organisation(spec, builder)
