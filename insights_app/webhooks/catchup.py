"""Sessions a webhook said had ended, followed until the API shows them ended: retries, then the net.

Whereby's data lag varies by session (10-15 minutes, now and then longer), so a room sync due after
the delay may still see a session running. Each ``room.session.ended`` is awaited on its own (the
event carries no session id: it is matched by room and end time), in the room-sync window of its
first look (``sync.lag.first_look``); a window job that finds it still missing syncs the room again
and awaits it once more, a little later each time (every minute while a probe narrows the lag down),
up to ``GIVE_UP_AFTER``. After that the scheduled sync (the safety net) reads the room, and the
session counts as late. A session found is one observation of the lag (``sync.lag.observe``): from
its event to the sync that first showed it ended, and from the last sync that still showed it running.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils.dateparse import parse_datetime

from ..jobs.queue import get_queue
from ..models import RoomSession, SyncRun, SyncStatus
from ..models.webhooks import ENDED_MATCH, FOLLOWED_FOR
from ..sync import lag
from . import schedule

# The window's [room name, ended at, attempt, looked at, missed at, every minute until] (times ISO or null)
AWAITED = "webhooks:awaited:{}"
MATCH = ENDED_MATCH
GIVE_UP_AFTER = FOLLOWED_FOR
# Short and growing: the lag's spread is a few minutes, so the first retries come soon.
BACKOFF_MINUTES = (1, 2, 3, 5, 8)
STEP = timedelta(minutes=1)
LOOK_BACK = timedelta(days=1)


@dataclass(frozen=True)
class Awaited:
    """One awaited session end and what the looks so far have shown."""

    room_name: str
    ended_at: datetime
    attempt: int = 1
    looked_at: datetime | None = None  # the sync the previous look started (None: none yet)
    missed_at: datetime | None = None  # the last sync that still showed the session running
    step_until: datetime | None = None  # a probe: looked at every minute until then

    def member(self) -> str:
        """The Redis set member."""
        return json.dumps(
            [self.room_name, self.ended_at.isoformat(), self.attempt]
            + [
                None if t is None else t.isoformat()
                for t in (self.looked_at, self.missed_at, self.step_until)
            ]
        )


def _moment(value: object) -> datetime | None:
    return parse_datetime(value) if isinstance(value, str) else None


def _parsed(member: bytes | str) -> Awaited | None:
    values = json.loads(member)
    values += [None] * (6 - len(values))  # members of earlier versions had three fields
    room_name, ended_at, attempt, looked_at, missed_at, step_until = values[:6]
    moment = _moment(ended_at)
    if moment is None:
        return None
    return Awaited(
        str(room_name), moment, int(attempt), _moment(looked_at), _moment(missed_at), _moment(step_until)
    )


def backoff(attempt: int) -> timedelta:
    """The wait before try ``attempt + 1`` of a session still missing after try ``attempt``."""
    return timedelta(minutes=BACKOFF_MINUTES[min(attempt, len(BACKOFF_MINUTES)) - 1])


def await_session(room_name: str, ended_at: datetime, first_look: timedelta, *, probe: bool = False) -> str:
    """Check for the session of ``room_name`` that ended at ``ended_at`` after ``first_look``.

    A probe (``first_look`` earlier than the learned lag) is looked at again every minute until a
    little past that lag, so the lag it measures is close.
    """
    step_until = None
    if probe:  # every minute until a little past the lag learned so far
        step_until = ended_at + max(first_look, lag.figures().learned or first_look) + 2 * STEP
    due = schedule.window_end(schedule.due_after(ended_at, first_look), first_look)
    return _await(Awaited(room_name, ended_at, 1, step_until=step_until), due)


def _await(awaited: Awaited, due: datetime) -> str:
    queue = get_queue()
    window_stamp = schedule.stamp(due)
    key = schedule._key(AWAITED, window_stamp)
    queue.connection.sadd(key, awaited.member())
    queue.connection.expire(key, max(int((due - schedule.now()).total_seconds()) + 3600, 60))
    schedule._enqueue_window(
        queue, due, "rooms", schedule.ROOM_SYNC_JOB, schedule.room_sync_job_id(window_stamp)
    )
    return f"session end awaited at {due.isoformat(timespec='seconds')}"


def take_awaited(window_stamp: str) -> list[Awaited]:
    """The window's awaited session ends, removed from Redis."""
    pipe = get_queue().connection.pipeline(transaction=True)
    key = schedule._key(AWAITED, window_stamp)
    pipe.smembers(key)
    pipe.delete(key)
    members, _deleted = pipe.execute()
    taken = [found for found in (_parsed(member) for member in members) if found is not None]
    return sorted(taken, key=lambda a: (a.room_name, a.ended_at, a.attempt))


def _arrived(awaited: list[Awaited]) -> set[tuple[str, datetime]]:
    """Which awaited ends the database already holds as an ended session (one query)."""
    if not awaited:
        return set()
    stored = RoomSession.objects.filter(
        room__room_name__in={a.room_name for a in awaited},
        ended_at__gte=min(a.ended_at for a in awaited) - MATCH,
        ended_at__lte=max(a.ended_at for a in awaited) + MATCH,
    ).values_list("room__room_name", "ended_at")
    ends: dict[str, list[datetime]] = {}
    for room, ended in stored:
        if ended is not None:  # the filter on ended_at excludes null; this tells the type checker
            ends.setdefault(room, []).append(ended)
    return {
        (a.room_name, a.ended_at)
        for a in awaited
        if any(abs(ended - a.ended_at) <= MATCH for ended in ends.get(a.room_name, []))
    }


def _observe(found: Awaited, now: datetime) -> None:
    """The lag this session showed: ended in the last sync that looked, running in the one before."""
    if found.looked_at is None:  # another sync showed it before the first look: at most this late
        lag.observe(None, now - found.ended_at)
        return
    lo = None if found.missed_at is None else found.missed_at - found.ended_at
    lag.observe(lo, found.looked_at - found.ended_at)


def follow_up(window_stamp: str) -> tuple[set[str], int]:
    """Rooms of the window whose awaited session is still missing (each awaited again), and how many gave up."""
    awaited = take_awaited(window_stamp)
    arrived = _arrived(awaited)
    rooms: set[str] = set()
    late = 0
    # Ends, looks and probes are times on the database's clock (as the event times they follow); only
    # a next look's due time moves to Redis's clock, where the scheduler reads it.
    now = schedule.event_now()
    # A session is not looked at again before the lag learned meanwhile says it can show (with "auto":
    # a session followed since before anything was learned, or a probe that missed).
    learned = lag.figures().learned if awaited and lag.follows("WEBHOOK_SYNC_DELAY_MINUTES") else None
    # The room sync this window starts looks at the API now only when no other run is ahead of it
    # in the queue; behind one (a full sync), its look comes later than now, and a lag timed from
    # now would read short. Its look then only bounds the lag from above (timed at the next window).
    behind = (
        bool(awaited) and SyncRun.objects.filter(status__in=(SyncStatus.QUEUED, SyncStatus.RUNNING)).exists()
    )
    for a in awaited:
        if (a.room_name, a.ended_at) in arrived:
            _observe(a, now)
            continue
        if now - a.ended_at >= GIVE_UP_AFTER:
            late += 1  # the safety net reads the room (WebhookEvent.objects.ended_sessions_missing)
            continue
        rooms.add(a.room_name)
        wait = STEP if a.step_until is not None and now < a.step_until else backoff(a.attempt)
        due = now + wait if learned is None else max(now + wait, a.ended_at + learned)
        # The sync this window starts looks at the room now; the previous look showed it running.
        missed = a.looked_at or a.missed_at
        next_look = Awaited(
            a.room_name, a.ended_at, a.attempt + 1, None if behind else now, missed, a.step_until
        )
        _await(next_look, schedule.window_end(schedule.redis_instant(due)))
    return rooms, late
