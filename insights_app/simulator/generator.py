"""Deterministic generation of rooms, sessions and connections from an OrgSpec."""

from __future__ import annotations

import itertools
import math
import uuid
from collections import Counter
from datetime import UTC, datetime
from random import Random

from .model import Conn, Person, Room, Session
from .spec import DAY_MS, MINUTE_MS, OrgSpec
from .vocab import (
    FIRST_NAMES,
    GUEST_ROLES,
    HOST_ROLES,
    HOSTILE_NAMES,
    HOSTILE_ROOM_PREFIXES,
    LAST_NAMES,
    RATING_COMMENTS,
    RATING_TAGS,
    RECORDER,
    REDACTED,
    ROOM_PREFIXES,
    STREAMER,
    TIME_ZONES,
    USER_AGENTS,
)

_HOST_ROLE_NAMES = tuple(name for name, _ in HOST_ROLES)
_HOST_ROLE_WEIGHTS = tuple(weight for _, weight in HOST_ROLES)
_GUEST_ROLE_NAMES = tuple(name for name, _ in GUEST_ROLES)
_GUEST_ROLE_WEIGHTS = tuple(weight for _, weight in GUEST_ROLES)
_ANONYMOUS_ROLES = frozenset({"visitor", "granted_visitor", "viewer", "granted_viewer"})
_MAX_SESSION_MS = 3 * 3600_000
_MEDIAN_SESSION_MS = 25 * MINUTE_MS


def new_id(rng: Random) -> str:
    """A random (but seeded) UUID4 string."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def office_hour_start(rng: Random, window_start: int, window_end: int, tz: float) -> int:
    """A start instant in [window_start, window_end) peaking on weekday office hours in zone ``tz``."""
    first_day = window_start // DAY_MS
    ndays = max(1, -(-(window_end - first_day * DAY_MS) // DAY_MS))
    for _ in range(24):
        day = first_day + rng.randrange(ndays)
        weekday = datetime.fromtimestamp(day * 86_400, tz=UTC).weekday()
        if weekday >= 5 and rng.random() < 0.8:
            continue
        if rng.random() < 0.85:
            hour = min(19.0, max(7.0, rng.gauss(rng.choice((10.5, 14.5)), 1.6)))
        else:
            hour = rng.uniform(0, 24)
        moment = day * DAY_MS + int((hour - tz) * 3600_000)
        if window_start <= moment < window_end:
            return moment
    return rng.randrange(window_start, window_end)


class PeoplePool:
    """People who come back across sessions, some far more often than others (Zipf-like)."""

    def __init__(self, rng: Random, size: int, hostile: bool) -> None:
        self.people: list[Person] = []
        for index in range(size):
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            roll = rng.random()
            if roll < 0.03:
                name = REDACTED
            elif hostile and roll < 0.035:
                name = rng.choice(HOSTILE_NAMES)
            self.people.append(
                Person(
                    user_id=new_id(rng),
                    device_id=new_id(rng) if rng.random() > 0.06 else None,
                    external_id=f"cust-{index:06d}" if rng.random() < 0.55 else None,
                    name=name,
                    user_agent=rng.choice(USER_AGENTS),
                )
            )
        self._cum = list(itertools.accumulate(1.0 / (i + 8) ** 0.8 for i in range(size)))

    def pick(self, rng: Random, count: int) -> list[Person]:
        """``count`` distinct people, frequent ones more likely."""
        chosen: dict[int, None] = {}
        tries = 0
        while len(chosen) < count and tries < 4:
            for index in rng.choices(range(len(self.people)), cum_weights=self._cum, k=count * 2):
                chosen.setdefault(index, None)
                if len(chosen) == count:
                    break
            tries += 1
        index = rng.randrange(len(self.people))
        while len(chosen) < count:  # a pool always holds more people than the largest session
            chosen.setdefault(index, None)
            index = (index + 1) % len(self.people)
        return [self.people[i] for i in chosen]


class Builder:
    """Builds one organisation's history (and, in live mode, its future day by day)."""

    def __init__(self, spec: OrgSpec) -> None:
        self.spec = spec
        self.rng = Random(f"whereby-sim:{spec.seed}")
        self.now0 = spec.now_ms
        self.rooms: list[Room] = []
        self.sessions: dict[str, Session] = {}
        self.by_external_id: dict[str, list[tuple[Session, Conn]]] = {}
        self.pool: PeoplePool | None = None
        # Privacy choices draw from their own generator, so switching them on leaves the rest unchanged.
        self.privacy_rng = Random(f"whereby-sim:{spec.seed}:privacy")
        self.anonymous: set[str] = set()

    # -- rooms -------------------------------------------------------------------------------
    def make_rooms(self) -> None:
        """Rooms with a home time zone and a popularity (some never used)."""
        rng = self.rng
        for index in range(self.spec.rooms):
            prefix = rng.choice(ROOM_PREFIXES)
            if self.spec.hostile_names and index < len(HOSTILE_ROOM_PREFIXES) and self.spec.rooms >= 6:
                prefix = HOSTILE_ROOM_PREFIXES[index]
            name = f"/{prefix}-{new_id(rng)}"
            idle = self.spec.rooms > 1 and rng.random() < 0.1
            weight = 0.0 if idle else rng.lognormvariate(0, 1.0)
            room = Room(name, rng.choice(TIME_ZONES), weight)
            if rng.random() < 0.05:
                room.extra = {"region": "eu"}
            self.rooms.append(room)
        if self.rooms and not any(room.weight for room in self.rooms):
            self.rooms[0].weight = 1.0
        for room in self.rooms:
            if self.privacy_rng.random() < self.spec.redacted_rooms:
                room.stripped = True
                room.stripped_as = REDACTED if self.privacy_rng.random() < 0.5 else None

    def session_counts(self) -> list[int]:
        """Exactly ``total_sessions`` spread unevenly over rooms, none over a room's capacity."""
        total = self.spec.total_sessions
        if not self.rooms or total == 0:
            return [0] * len(self.rooms)
        capacity = self._slot_range()[1] - self._slot_range()[0] + 1
        weights = [room.weight for room in self.rooms]
        counts = Counter(self.rng.choices(range(len(self.rooms)), weights=weights, k=total))
        result = [counts.get(i, 0) for i in range(len(self.rooms))]
        overflow = sum(max(0, c - capacity) for c in result)
        result = [min(c, capacity) for c in result]
        index = 0
        while overflow:  # only for absurdly dense specs: move the excess to rooms with room to spare
            if result[index] < capacity:
                result[index] += 1
                overflow -= 1
            index = (index + 1) % len(result)
        return result

    def _slot_range(self) -> tuple[int, int]:
        """First and last minute slot a history session may start in."""
        start = self.now0 - int(self.spec.days * DAY_MS)
        return -(-start // MINUTE_MS), (self.now0 - MINUTE_MS) // MINUTE_MS

    def session_starts(self, room: Room, count: int) -> list[int]:
        """``count`` start instants at distinct minutes (one session at a time per room)."""
        first, last = self._slot_range()
        taken: set[int] = set()
        rng = self.rng
        for _ in range(count):
            slot = office_hour_start(rng, first * MINUTE_MS, (last + 1) * MINUTE_MS, room.tz) // MINUTE_MS
            probe, step = slot, -1
            while probe in taken or probe < first or probe > last:
                probe += step
                if probe < first:
                    probe, step = slot + 1, 1
            taken.add(probe)
        return [slot * MINUTE_MS + rng.randrange(30_000) for slot in sorted(taken)]

    # -- sessions ----------------------------------------------------------------------------
    def connection_counts(self, sessions: int) -> list[int]:
        """Exactly ``total_connections`` spread over sessions: at least one each, a few big ones."""
        total = self.spec.total_connections
        rng = self.rng
        if sessions == 0:
            return []
        if total < sessions:
            counts = [0] * sessions
            for index in rng.sample(range(sessions), total):
                counts[index] = 1
            return counts
        counts = [1] * sessions
        weights = [rng.lognormvariate(0, 0.9) for _ in range(sessions)]
        for index in rng.choices(range(sessions), weights=weights, k=total - sessions):
            counts[index] += 1
        return counts

    def sample_duration(self) -> int:
        """A session length: median ~25 minutes, from one minute to three hours."""
        value = self.rng.lognormvariate(math.log(_MEDIAN_SESSION_MS), 0.8)
        return int(min(_MAX_SESSION_MS, max(MINUTE_MS, value)))

    def build_session(self, room: Room, start: int, end: int, connections: int, *, history: bool) -> Session:
        """One session with its connections; in the history, everyone has joined by ``now``."""
        rng = self.rng
        session = Session(new_id(rng), room, start, end)
        if rng.random() < 0.03:
            session.extra = {"region": "eu"}
        duration = end - start
        ongoing = history and end > self.now0
        join_window = int(0.3 * duration)
        if ongoing:  # totals must be exact now: nobody of a running history session joins later
            join_window = min(join_window, self.now0 - start)
        bots: list[str] = []
        if connections >= 3 and rng.random() < 0.1:
            bots.append(RECORDER)
        if connections >= 4 and rng.random() < 0.04:
            bots.append(STREAMER)
        humans = connections - len(bots)
        reconnects = 0 if ongoing or humans == 0 else sum(rng.random() < 0.12 for _ in range(humans - 1))
        assert self.pool is not None, "the people pool is made before any session"
        people = self.pool.pick(rng, humans - reconnects) if humans else []
        per_person = [1] * len(people)
        for _ in range(reconnects):
            per_person[rng.randrange(len(people))] += 1
        rated = self.spec.ratings and rng.random() < 0.25
        conns: list[Conn] = []
        for position, (person, pieces) in enumerate(zip(people, per_person, strict=True)):
            if position == 0:
                role = rng.choices(_HOST_ROLE_NAMES, _HOST_ROLE_WEIGHTS)[0]
                first, last = start, end
            else:
                role = rng.choices(_GUEST_ROLE_NAMES, _GUEST_ROLE_WEIGHTS)[0]
                first = start + rng.randint(0, join_window)
                last = first + max(1000, int((end - first) * rng.uniform(0.5, 1.0)))
                last = min(last, end)
            # A guest who is not signed in has no userId (the API's "guests")
            guest = position > 0 and role in _ANONYMOUS_ROLES and person.user_id in self.anonymous
            user_id = None if guest else person.user_id
            for seg_start, seg_end in split_interval(rng, first, last, pieces):
                conn = Conn(new_id(rng), user_id, person.device_id, role)
                conn.display_name = person.name
                conn.external_id = person.external_id
                conn.user_agent = person.user_agent
                conn.joined, conn.left = seg_start, seg_end
                conns.append(conn)
        for role in bots:
            conn = Conn(new_id(rng), new_id(rng), None, role)
            conn.display_name = "Recorder" if role == RECORDER else "Live stream"
            conn.joined = start + rng.randint(0, join_window)
            conn.left = min(end, conn.joined + max(1000, int((end - conn.joined) * rng.uniform(0.3, 1.0))))
            conns.append(conn)
        for conn in conns:
            if rated and conn.role not in (RECORDER, STREAMER) and rng.random() < 0.5:
                self._rate(conn)
            if rng.random() < 0.01:
                conn.extra = {"region": "eu"}
            if conn.external_id is not None:
                self.by_external_id.setdefault(conn.external_id, []).append((session, conn))
        conns.sort(key=lambda c: (c.joined, c.participant_id))
        session.conns = conns
        self.sessions[session.session_id] = session
        room.sessions.append(session)
        room.busy_until = max(room.busy_until, end)
        return session

    def _rate(self, conn: Conn) -> None:
        """A participant's post-call rating, tags and comment."""
        rng = self.rng
        conn.rating = rng.choices((1, 2, 3, 4, 5), (1, 2, 4, 10, 14))[0]
        if conn.rating <= 3:
            conn.tags = rng.sample(RATING_TAGS, rng.randint(1, 2))
        if rng.random() < 0.3:
            conn.comment = rng.choice(RATING_COMMENTS)

    # -- whole history -------------------------------------------------------------------------
    def build_history(self) -> None:
        """Rooms, sessions and connections up to ``now``, with exact totals."""
        self.make_rooms()
        counts = self.session_counts()
        plans: list[tuple[Room, int, int]] = []
        for room, count in zip(self.rooms, counts, strict=True):
            starts = self.session_starts(room, count)
            for index, start in enumerate(starts):
                duration = self.sample_duration()
                if index + 1 < len(starts):
                    duration = min(duration, starts[index + 1] - start - 10_000)
                plans.append((room, start, start + duration))
        connection_counts = self.connection_counts(len(plans))
        biggest = max(connection_counts, default=0)
        self.pool = PeoplePool(
            self.rng, max(40, self.spec.total_connections // 5, biggest + 5), self.spec.hostile_names
        )
        share = self.spec.guests_without_user_id
        self.anonymous = {p.user_id for p in self.pool.people if self.privacy_rng.random() < share}
        for (room, start, end), connections in zip(plans, connection_counts, strict=True):
            self.build_session(room, start, end, connections, history=True)
        self._finish_rooms()
        if self.spec.hostile_names:
            self._plant_hostile_names()

    def _finish_rooms(self) -> None:
        """Creation and expiry instants consistent with each room's sessions."""
        rng = self.rng
        for room in self.rooms:
            room.sessions.sort(key=lambda s: s.start)
            if room.sessions:
                room.created = room.sessions[0].start - rng.randint(3600_000, 30 * DAY_MS)
            else:
                room.created = self.now0 - rng.randint(3600_000, int((self.spec.days + 30) * DAY_MS))
            room.end_at = room.created + rng.choice((1, 2, 5, 10)) * 365 * DAY_MS

    def _plant_hostile_names(self) -> None:
        """Guarantee each hostile name appears on at least one human connection."""
        humans = [
            conn
            for session in self.sessions.values()
            for conn in session.conns
            if conn.role not in (RECORDER, STREAMER)
        ]
        for name, conn in zip(
            HOSTILE_NAMES, self.rng.sample(humans, min(len(humans), len(HOSTILE_NAMES))), strict=False
        ):
            conn.display_name = name

    # -- live future ----------------------------------------------------------------------------
    def build_future_day(self, day_index: int) -> None:
        """Sessions starting during live day ``day_index`` after the generation instant."""
        rng = Random(f"whereby-sim:{self.spec.seed}:live:{day_index}")
        saved, self.rng = self.rng, rng
        try:
            per_day = self.spec.total_sessions / self.spec.days
            count = max(0, round(rng.gauss(per_day, math.sqrt(per_day) if per_day else 0)))
            weighted = [room for room in self.rooms if room.weight]
            if not weighted or self.pool is None:
                return
            window_start = self.now0 + day_index * DAY_MS
            window_end = window_start + DAY_MS
            planned = []
            for _ in range(count):
                room = rng.choices(weighted, [r.weight for r in weighted])[0]
                planned.append((office_hour_start(rng, window_start, window_end, room.tz), room))
            planned.sort(key=lambda item: (item[0], item[1].name))
            mean = max(1.0, self.spec.participants_per_session)
            for start, room in planned:
                start = max(start, room.busy_until + MINUTE_MS + rng.randrange(30_000))
                connections = max(1, round(rng.lognormvariate(math.log(mean) - 0.2, 0.6)))
                self.build_session(room, start, start + self.sample_duration(), connections, history=False)
        finally:
            self.rng = saved


def split_interval(rng: Random, first: int, last: int, pieces: int) -> list[tuple[int, int]]:
    """Split [first, last] into ``pieces`` connections separated by short reconnect gaps."""
    if pieces == 1:
        return [(first, last)]
    length = last - first
    gap = min(8_000, length // (4 * pieces))
    usable = length - gap * (pieces - 1)
    weights = [rng.uniform(0.3, 1.0) for _ in range(pieces)]
    scale = usable / sum(weights)
    segments, cursor = [], first
    for index, weight in enumerate(weights):
        end = last if index == pieces - 1 else max(cursor + 1, cursor + int(weight * scale))
        segments.append((cursor, end))
        cursor = end + gap
    return segments
