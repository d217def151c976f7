"""Sessions a webhook said had ended, followed until the API shows them ended: retries, then the net.

Whereby's data lag varies by session (10-15 minutes, now and then longer), so a room sync due after
the delay may still see a session running. Each ``room.session.ended`` is awaited on its own (the
event carries no session id: it is matched by room and end time), in the room-sync window due after
the delay; a window job that finds it still missing syncs the room again and awaits it once more,
a little later each time, up to ``GIVE_UP_AFTER``. After that the scheduled sync (the safety net)
reads the room, and the session counts as late.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from django.utils.dateparse import parse_datetime

from ..jobs.queue import get_queue
from ..models import RoomSession
from ..models.webhooks import ENDED_MATCH
from . import schedule

AWAITED = "webhooks:awaited:{}"  # the window's [room name, ended at (ISO), attempt]
MATCH = ENDED_MATCH
GIVE_UP_AFTER = timedelta(minutes=60)
# Short and growing: the lag's spread is a few minutes, so the first retries come soon.
BACKOFF_MINUTES = (1, 2, 3, 5, 8)
LOOK_BACK = timedelta(days=1)


def backoff(attempt: int) -> timedelta:
    """The wait before try ``attempt + 1`` of a session still missing after try ``attempt``."""
    return timedelta(minutes=BACKOFF_MINUTES[min(attempt, len(BACKOFF_MINUTES)) - 1])


def await_session(room_name: str, ended_at: datetime, *, attempt: int = 1) -> str:
    """Check for the session of ``room_name`` that ended at ``ended_at`` in a room-sync window."""
    queue = get_queue()
    now = schedule.now()
    due = schedule.window_end(schedule.due_after(ended_at) if attempt == 1 else now + backoff(attempt - 1))
    window_stamp = schedule.stamp(due)
    key = schedule._key(AWAITED, window_stamp)
    queue.connection.sadd(key, json.dumps([room_name, ended_at.isoformat(), attempt]))
    queue.connection.expire(key, max(int((due - now).total_seconds()) + 3600, 60))
    schedule._enqueue_window(
        queue, due, "rooms", schedule.ROOM_SYNC_JOB, schedule.room_sync_job_id(window_stamp)
    )
    return f"session end awaited at {due.isoformat(timespec='seconds')}"


def take_awaited(window_stamp: str) -> list[tuple[str, datetime, int]]:
    """The window's awaited session ends, removed from Redis."""
    pipe = get_queue().connection.pipeline(transaction=True)
    key = schedule._key(AWAITED, window_stamp)
    pipe.smembers(key)
    pipe.delete(key)
    members, _deleted = pipe.execute()
    taken = []
    for member in members:
        room_name, ended_at, attempt = json.loads(member)
        moment = parse_datetime(str(ended_at))
        if moment is not None:
            taken.append((str(room_name), moment, int(attempt)))
    return sorted(taken)


def _arrived(awaited: list[tuple[str, datetime, int]]) -> set[tuple[str, datetime]]:
    """Which awaited ends the database already holds as an ended session (one query)."""
    if not awaited:
        return set()
    stored = RoomSession.objects.filter(
        room__room_name__in={room for room, _, _ in awaited},
        ended_at__gte=min(at for _, at, _ in awaited) - MATCH,
        ended_at__lte=max(at for _, at, _ in awaited) + MATCH,
    ).values_list("room__room_name", "ended_at")
    ends: dict[str, list[datetime]] = {}
    for room, ended in stored:
        if ended is not None:  # the filter on ended_at excludes null; this tells the type checker
            ends.setdefault(room, []).append(ended)
    return {
        (room, at) for room, at, _ in awaited if any(abs(ended - at) <= MATCH for ended in ends.get(room, []))
    }


def follow_up(window_stamp: str) -> tuple[set[str], int]:
    """Rooms of the window whose awaited session is still missing (each awaited again), and how many gave up."""
    awaited = take_awaited(window_stamp)
    arrived = _arrived(awaited)
    rooms: set[str] = set()
    late = 0
    now = schedule.now()
    for room, at, attempt in awaited:
        if (room, at) in arrived:
            continue
        if now - at >= GIVE_UP_AFTER:
            late += 1  # the safety net reads the room (WebhookEvent.objects.ended_sessions_missing)
            continue
        rooms.add(room)
        await_session(room, at, attempt=attempt + 1)
    return rooms, late
