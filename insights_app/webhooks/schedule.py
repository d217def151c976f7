"""Delayed, coalesced work: one job per delay window syncs every room that ended in it, and another
fetches the details of every connection that left in it.

Due instants are rounded up to a window (a minute, or the delay when shorter), so rooms and leavers
whose data the API shows at about the same time share one job and one ``SyncRun``. Each window's
members wait in a Redis set; a marker set with NX enqueues the window's job once (RQ's
``enqueue_at``: a worker started ``--with-scheduler`` moves it to the queue when due), and a per-room
marker keeps "one pending sync per room" across workers processing events of one room at once.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from ..jobs.queue import get_queue
from ..site import job_id, redis_key, site_meta
from ..sync import lag
from ..sync.clock import db_now, redis_now

# Under this site's prefix (site.redis_key): two sites' windows and rooms never meet.
MARKER = "webhooks:pending-room-sync:{}"
ROOMS = "webhooks:rooms:{}"  # the window's room names
DETAILS = "webhooks:details:{}"  # the window's [roomSessionId, participantId, attempt]
WINDOW_JOB = "webhooks:window-job:{}"  # set while the window's job is pending
# After this many tries a detail fetch whose connection is still not stored is left to the safety net.
DETAIL_TRIES = 3
DETAIL_RETRY = timedelta(minutes=5)
MAX_WINDOW = timedelta(minutes=1)
# By dotted path: the job module imports this one.
ROOM_SYNC_JOB = "insights_app.webhooks.jobs.run_room_sync"
DETAIL_FETCH_JOB = "insights_app.webhooks.jobs.run_detail_fetch"


def _key(template: str, value: str) -> str:
    """The Redis key ``template`` names for ``value``, under this site's prefix."""
    return redis_key(template.format(value))


def digest(*parts: str) -> str:
    """A short stable key for ids and Redis keys (room names are arbitrary user text)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def delay() -> timedelta:
    """How long the API takes to show what a webhook announced: ``WEBHOOK_SYNC_DELAY_MINUTES``, with
    "auto" the lag learned (``sync.lag.first_look``)."""
    return lag.first_look()[0]


def window(wait: timedelta | None = None) -> timedelta:
    """The width of a coalescing window: a minute, or the delay when that is under half a minute (at
    least 1 s). A learned lag of 50 s keeps whole minutes: a 50-s grid would only shift the looks."""
    wait = delay() if wait is None else wait
    return MAX_WINDOW if wait >= MAX_WINDOW / 2 else max(timedelta(seconds=1), wait)


def now() -> datetime:
    """Now on Redis's clock: due times are kept there and the scheduler compares them with it."""
    return redis_now(get_queue().connection)


def event_now() -> datetime:
    """Now on the clock event times are judged by: the database's, which stamps a delivery's time
    received and bounds its ``createdAt`` (Redis's server may run on another machine's clock)."""
    return db_now()


def redis_instant(event_time: datetime) -> datetime:
    """``event_time`` (on the database's clock) as the instant on Redis's clock that is as far from
    now: only the time left crosses from one clock to the other, never an instant."""
    return now() + (event_time - event_now())


def due_after(at: datetime, wait: timedelta | None = None) -> datetime:
    """The event's time plus the delay, on Redis's clock, never in the past (a late delivery runs at once)."""
    return max(now(), redis_instant(at + (delay() if wait is None else wait)))


def window_end(due: datetime, wait: timedelta | None = None) -> datetime:
    """``due`` rounded up to the end of its window (whole seconds, as RQ schedules)."""
    width = window(wait).total_seconds()
    return datetime.fromtimestamp(math.ceil(due.timestamp() / width) * width, tz=UTC)


def stamp(at: datetime) -> str:
    """A window's name in job ids and Redis keys."""
    return at.strftime("%Y%m%dT%H%M%S")


def room_sync_job_id(window_stamp: str) -> str:
    """Deterministic: one room-sync job per window."""
    return job_id(f"webhook-room-{window_stamp}")


def detail_job_id(window_stamp: str) -> str:
    """Deterministic: one detail-fetch job per window."""
    return job_id(f"webhook-details-{window_stamp}")


def _enqueue_window(queue: Any, due: datetime, kind: str, func: str, job_id: str) -> None:
    """Schedule the window's job unless it is already pending (the job clears the marker as it starts)."""
    ttl = int((due - now()).total_seconds()) + 3600
    window_stamp = stamp(due)
    if queue.connection.set(_key(WINDOW_JOB, f"{kind}:{window_stamp}"), job_id, nx=True, ex=max(ttl, 60)):
        queue.enqueue_at(
            due,
            func,
            window_stamp,
            job_id=job_id,
            job_timeout=600,
            result_ttl=86400,
            failure_ttl=7 * 86400,
            meta=site_meta(),
        )


def room_sync(room_name: str, at: datetime, wait: timedelta | None = None) -> str:
    """Add ``room_name`` to the sync of the window its data is due in (``wait`` after ``at``, by default
    the delay), unless it is already pending."""
    queue = get_queue()
    wait = delay() if wait is None else wait
    due = window_end(due_after(at, wait), wait)
    window_stamp = stamp(due)
    ttl = max(int((due - now()).total_seconds()) + 3600, 60)  # frees the room if the job was lost
    connection = queue.connection
    if not connection.set(_key(MARKER, digest(room_name)), window_stamp, nx=True, ex=ttl):
        return "room sync already pending"
    connection.sadd(_key(ROOMS, window_stamp), room_name)
    connection.expire(_key(ROOMS, window_stamp), ttl)
    _enqueue_window(queue, due, "rooms", ROOM_SYNC_JOB, room_sync_job_id(window_stamp))
    return f"room sync scheduled for {due.isoformat(timespec='seconds')}"


def take_rooms(window_stamp: str) -> list[str]:
    """Called as the window's job starts: its rooms, each freed so later events schedule a new sync."""
    connection = get_queue().connection
    pipe = connection.pipeline(transaction=True)
    pipe.smembers(_key(ROOMS, window_stamp))
    pipe.delete(_key(ROOMS, window_stamp), _key(WINDOW_JOB, f"rooms:{window_stamp}"))
    members, _deleted = pipe.execute()
    names = sorted(m.decode() if isinstance(m, bytes) else m for m in members)
    if names:
        connection.delete(*(_key(MARKER, digest(name)) for name in names))
    return names


def detail_fetch(room_session_id: str, participant_id: str, at: datetime, *, attempt: int = 1) -> str:
    """Add one connection to the detail fetch of the window its data is due in."""
    queue = get_queue()
    wait = lag.settled_after()  # not a probe's early look: the connection must be listed by then
    due = window_end(due_after(at, wait) if attempt == 1 else now() + DETAIL_RETRY, wait)
    window_stamp = stamp(due)
    key = _key(DETAILS, window_stamp)
    queue.connection.sadd(key, json.dumps([room_session_id, participant_id, attempt]))
    queue.connection.expire(key, max(int((due - now()).total_seconds()) + 3600, 60))
    _enqueue_window(queue, due, "details", DETAIL_FETCH_JOB, detail_job_id(window_stamp))
    return f"detail fetch scheduled for {due.isoformat(timespec='seconds')}"


def take_details(window_stamp: str) -> list[tuple[str, str, int]]:
    """Called as the window's job starts: its connections as (roomSessionId, participantId, attempt)."""
    pipe = get_queue().connection.pipeline(transaction=True)
    pipe.smembers(_key(DETAILS, window_stamp))
    pipe.delete(_key(DETAILS, window_stamp), _key(WINDOW_JOB, f"details:{window_stamp}"))
    members, _deleted = pipe.execute()
    taken = set()
    for member in members:
        session_id, participant_id, attempt = json.loads(member)
        taken.add((str(session_id), str(participant_id), int(attempt)))
    return sorted(taken)
