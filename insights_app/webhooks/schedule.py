"""Delayed, coalesced work: one pending room sync per room, one detail fetch per connection.

Jobs are scheduled with RQ's ``enqueue_at`` (a worker started ``--with-scheduler`` moves them to the
queue when due) under deterministic ids, and a Redis marker set with NX makes "one pending job per
room" hold across workers processing events of the same room at the same moment.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from django.utils import timezone

from ..conf import get_settings

MARKER = "insights:webhooks:pending-room-sync:{}"
# After this many tries a detail fetch whose connection is still not stored is left to the safety net.
DETAIL_TRIES = 3
DETAIL_RETRY = timedelta(minutes=5)
# By dotted path: the job module imports this one.
ROOM_SYNC_JOB = "insights_app.webhooks.jobs.run_room_sync"
DETAIL_FETCH_JOB = "insights_app.webhooks.jobs.run_detail_fetch"


def digest(*parts: str) -> str:
    """A short stable key for ids and Redis keys (room names are arbitrary user text)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def delay() -> timedelta:
    """``WEBHOOK_SYNC_DELAY_MINUTES``: how long the API takes to show what a webhook announced."""
    return timedelta(minutes=float(get_settings().WEBHOOK_SYNC_DELAY_MINUTES))


def due_after(at: datetime) -> datetime:
    """The event's time plus the delay, never in the past (a late delivery runs at once)."""
    return max(timezone.now(), at + delay())


def room_sync_job_id(room_name: str, due: datetime) -> str:
    """Deterministic: the same room and due instant name the same job."""
    return f"insights-webhook-room-{digest(room_name)}-{due.strftime('%Y%m%dT%H%M%S')}"


def room_sync(room_name: str, at: datetime) -> str:
    """Schedule a sync of ``room_name`` after the delay, unless one is already pending for it."""
    from ..jobs import get_queue

    queue = get_queue()
    due = due_after(at)
    job_id = room_sync_job_id(room_name, due)
    ttl = int((due - timezone.now()).total_seconds()) + 3600  # frees the room if the job was lost
    if not queue.connection.set(MARKER.format(digest(room_name)), job_id, nx=True, ex=max(ttl, 60)):
        return "room sync already pending"
    queue.enqueue_at(
        due,
        ROOM_SYNC_JOB,
        room_name,
        job_id=job_id,
        job_timeout=600,
        result_ttl=86400,
        failure_ttl=7 * 86400,
    )
    return f"room sync scheduled for {due.isoformat(timespec='seconds')}"


def release_room(room_name: str) -> None:
    """Called as the room's job starts: events from now on schedule a new job."""
    from ..jobs import get_queue

    get_queue().connection.delete(MARKER.format(digest(room_name)))


def detail_fetch(room_session_id: str, participant_id: str, at: datetime, *, attempt: int = 1) -> str:
    """Schedule the fetch of one connection's quality details after the delay."""
    from ..jobs import get_queue

    due = due_after(at) if attempt == 1 else timezone.now() + DETAIL_RETRY
    get_queue().enqueue_at(
        due,
        DETAIL_FETCH_JOB,
        room_session_id,
        participant_id,
        attempt,
        job_id=f"insights-webhook-details-{digest(room_session_id, participant_id)}-{attempt}",
        job_timeout=600,
        result_ttl=86400,
    )
    return f"detail fetch scheduled for {due.isoformat(timespec='seconds')}"
