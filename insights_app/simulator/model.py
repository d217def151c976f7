"""Compact in-memory records of the simulated organisation, and the totals derived from them."""

from __future__ import annotations

from dataclasses import dataclass

from .vocab import RECORDER, STREAMER


class Conn:
    """One participant connection (a reconnect is a new Conn with the same user and device)."""

    __slots__ = (
        "comment",
        "device_id",
        "display_name",
        "external_id",
        "extra",
        "joined",
        "left",
        "participant_id",
        "rating",
        "role",
        "tags",
        "user_agent",
        "user_id",
    )

    def __init__(self, participant_id: str, user_id: str | None, device_id: str | None, role: str) -> None:
        self.participant_id = participant_id
        self.user_id = user_id
        self.device_id = device_id
        self.role = role
        self.display_name = ""
        self.external_id: str | None = None
        self.joined = 0
        self.left = 0
        self.rating: int | None = None
        self.tags: list[str] | None = None
        self.comment: str | None = None
        self.user_agent = ""
        self.extra: dict | None = None


class Session:
    """One room session; ``end`` is the planned end, shown as null while it lies after ``now``."""

    __slots__ = ("conns", "end", "extra", "final", "room", "session_id", "start")

    def __init__(self, session_id: str, room: Room, start: int, end: int) -> None:
        self.session_id = session_id
        self.room = room
        self.start = start
        self.end = end
        self.conns: list[Conn] = []
        self.extra: dict | None = None
        self.final: Totals | None = None


class Room:
    """One room; ``sessions`` are kept in start order."""

    __slots__ = (
        "busy_until",
        "created",
        "end_at",
        "extra",
        "name",
        "sessions",
        "stripped",
        "stripped_as",
        "tz",
        "weight",
    )

    def __init__(self, name: str, tz: float, weight: float) -> None:
        self.name = name
        self.tz = tz
        self.weight = weight
        self.created = 0
        self.end_at = 0
        self.sessions: list[Session] = []
        self.busy_until = 0
        self.extra: dict | None = None
        # The organisation's privacy setting strips display names in this room (to ``stripped_as``).
        self.stripped = False
        self.stripped_as: str | None = None


class Person:
    """Someone who joins sessions: the same user id, device and external id each time."""

    __slots__ = ("device_id", "external_id", "name", "user_agent", "user_id")

    def __init__(
        self, user_id: str, device_id: str | None, external_id: str | None, name: str, user_agent: str
    ) -> None:
        self.user_id = user_id
        self.device_id = device_id
        self.external_id = external_id
        self.name = name
        self.user_agent = user_agent


@dataclass(frozen=True)
class Totals:
    """The six usage totals of a session plus its rating, as of one instant."""

    participant_minutes: int = 0
    recorder_minutes: int = 0
    streamer_minutes: int = 0
    unique_participants: int = 0
    unique_recorders: int = 0
    unique_streamers: int = 0
    rating: float | None = None
    total_ratings: int | None = None


def identity(conn: Conn) -> str:
    """Who a connection is for the unique counts: its userId, else its device, else the connection itself."""
    return conn.user_id or conn.device_id or conn.participant_id


def connection_minutes(conn: Conn, now: int) -> int:
    """Minutes of one connection rounded up, counting an open connection up to ``now``."""
    end = conn.left if conn.left <= now else now
    return max(0, -(-(end - conn.joined) // 60_000))


def session_totals(session: Session, now: int) -> Totals:
    """Totals of a session from its connections visible at ``now`` (sum of ceil minutes per connection)."""
    minutes = {RECORDER: 0, STREAMER: 0, "": 0}
    users: dict[str, set[str]] = {RECORDER: set(), STREAMER: set(), "": set()}
    ratings: list[int] = []
    for conn in session.conns:
        if conn.joined > now:
            break  # conns are in join order
        kind = conn.role if conn.role in (RECORDER, STREAMER) else ""
        minutes[kind] += connection_minutes(conn, now)
        users[kind].add(identity(conn))
        if conn.rating is not None and conn.left <= now:
            ratings.append(conn.rating)
    return Totals(
        participant_minutes=minutes[""],
        recorder_minutes=minutes[RECORDER],
        streamer_minutes=minutes[STREAMER],
        unique_participants=len(users[""]),
        unique_recorders=len(users[RECORDER]),
        unique_streamers=len(users[STREAMER]),
        rating=round(sum(ratings) / len(ratings), 2) if ratings else None,
        total_ratings=len(ratings) if ratings else None,
    )


def totals_at(session: Session, now: int) -> Totals:
    """Totals at ``now``, from the cached final totals once the session has ended."""
    if session.end <= now:
        if session.final is None:
            session.final = session_totals(session, session.end)
        return session.final
    return session_totals(session, now)
