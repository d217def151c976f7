"""RQ entry points of the webhook machinery (thin: each calls one service function)."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta
from typing import Any

import redis

from ..conf import get_settings
from ..jobs.enqueue import enqueue_sync
from ..jobs.entry_points import fresh_connections
from ..jobs.queue import get_queue
from ..models import Participant, SyncKind, SyncTrigger, WebhookEvent, WebhookOutcome
from ..site import job_id, redis_key
from ..sync.clock import db_now
from . import catchup, effects, schedule

logger = logging.getLogger(__name__)


# Set while a drain job is queued or running: events stored meanwhile add no job, the running drain
# takes them. It expires on its own when a worker dies holding it; the cron sweep covers that gap.
DRAIN_MARK = "webhooks:drain"  # a key of this site (site.redis_key)
DRAIN_MARK_TTL = 600
BATCH_SIZE = 200
# A drain waits this long for more events before it ends, so a burst arriving over a few seconds
# shares one job instead of starting one per gap; then it hands over after DRAIN_SECONDS.
LINGER_SECONDS = 1.0
DRAIN_SECONDS = 120.0
DRAIN_FUNC = "insights_app.webhooks.jobs.drain_events"


def drain_mark() -> str:
    """The mark's Redis key, this site's own (sites may share a Redis and a queue)."""
    return redis_key(DRAIN_MARK)


def drain_job_id() -> str:
    """A fresh id per drain (a finished drain's id must not be reused while RQ keeps its result)."""
    return job_id(f"webhook-events-{uuid.uuid4().hex[:16]}")


def _enqueue_drain(queue: Any) -> None:
    queue.enqueue_call(DRAIN_FUNC, job_id=drain_job_id(), timeout=300, result_ttl=3600, failure_ttl=7 * 86400)


def enqueue_processing(event_pk: int | None = None, *, force: bool = False) -> bool:
    """Make sure a drain job will take the stored events; True when this call queued one.

    Called after an event's transaction commits: the first event of a burst queues the drain and
    the others find the mark set. ``force`` (the cron sweep) queues one even with the mark set.
    """
    try:
        queue = get_queue()
        if not queue.connection.set(drain_mark(), "1", nx=not force, ex=DRAIN_MARK_TTL) and not force:
            return False
        _enqueue_drain(queue)
        return True
    except (redis.RedisError, OSError) as error:
        # Stored and pending: requeue_pending_events picks it up once Redis answers again.
        logger.warning("webhook event #%s stored but not queued: %s", event_pk, type(error).__name__)
        return False


def _pending() -> Any:
    return WebhookEvent.objects.filter(outcome=WebhookOutcome.PENDING)


def requeue_pending_events(older_than_seconds: float = 60) -> int:
    """Queue a drain when events have been pending a while (Redis was down, a worker died); how many."""
    cutoff = db_now() - timedelta(seconds=older_than_seconds)
    waiting = _pending().filter(received_at__lt=cutoff).count()
    if waiting:
        enqueue_processing(force=True)
    return waiting


@fresh_connections
def requeue_pending_events_job() -> int:
    """Cron job: queue events that arrived while Redis was down."""
    return requeue_pending_events()


@fresh_connections
def drain_events() -> str:
    """RQ job: apply every pending event in createdAt order, a batch at a time, until none is left.

    Each event is applied in its own transaction under a row lock (``effects.process``), so two
    drains running at once still apply every event exactly once.
    """
    redis_connection, mark = get_queue().connection, drain_mark()
    started = time.monotonic()
    applied = failed = 0
    stuck: set[int] = set()  # still pending after being applied: left to the sweep, not retried here

    def waiting() -> Any:
        return _pending().exclude(pk__in=stuck) if stuck else _pending()

    while True:
        batch = list(waiting().order_by("created_at", "pk").values_list("pk", flat=True)[:BATCH_SIZE])
        if not batch and _lingered(waiting):
            continue
        if not batch:
            redis_connection.delete(mark)
            # An event committed just before the delete found the mark set and queued nothing.
            if not waiting().exists() or not redis_connection.set(mark, "1", nx=True, ex=DRAIN_MARK_TTL):
                break  # nothing left, or a newer event queued its own drain
            continue
        redis_connection.expire(mark, DRAIN_MARK_TTL)
        for pk in batch:
            if _process_one(pk):
                applied += 1
            else:
                failed += 1
        stuck.update(_pending().filter(pk__in=batch).values_list("pk", flat=True))
        if time.monotonic() - started > DRAIN_SECONDS:
            _enqueue_drain(get_queue())  # the mark stays set: the successor owns it
            break
    return f"{applied} events applied" + (f", {failed} failed" if failed else "")


def _lingered(waiting: Any) -> bool:
    """Wait up to LINGER_SECONDS for a new pending event; True when one arrived."""
    deadline = time.monotonic() + LINGER_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if waiting().exists():
            return True
    return False


@fresh_connections
def process_event(event_pk: int) -> str:
    """RQ job of earlier versions (one per event; jobs already queued keep this path): drains the backlog."""
    return drain_events()


def _process_one(event_pk: int) -> bool:
    """Apply one event; on an error, record it on the event (``failed``) and go on. False when it failed."""
    try:
        effects.process(event_pk)
        return True
    except Exception as error:
        logger.exception("webhook event #%s failed", event_pk)
        # If this update fails too (the database is gone), the error ends the job; the event stays
        # pending and the cron sweep queues it again.
        WebhookEvent.objects.filter(pk=event_pk, processed_at__isnull=True).update(
            outcome=WebhookOutcome.FAILED, detail=f"{type(error).__name__}: {str(error)[:300]}"
        )
        return False


@fresh_connections
def run_room_sync(window_stamp: str) -> str:
    """RQ job (delayed): one room sync of every room whose session ended in the window."""
    missing, late = catchup.follow_up(window_stamp)
    names = sorted(set(schedule.take_rooms(window_stamp)) | missing)
    gave_up = f"; {late} ended sessions still missing: left to the scheduled sync" if late else ""
    if not names:
        return "no rooms in this window" + gave_up
    result = enqueue_sync(kind=SyncKind.ROOM, trigger=SyncTrigger.WEBHOOK, room_names=names)
    return f"room sync run #{result.run.pk} for {len(names)} rooms" + gave_up


@fresh_connections
def run_detail_fetch(window_stamp: str) -> str:
    """RQ job (delayed): one details run for the window's leavers whose connection the sync has stored."""
    if get_settings().DETAIL_POLICY == "none":
        return "detail policy is none"
    wanted = schedule.take_details(window_stamp)
    if not wanted:
        return "no connections in this window"
    stored = {
        (session_id, participant_id): (pk, synced_at)
        for pk, session_id, participant_id, synced_at in Participant.objects.filter(
            participant_id__in={participant_id for _, participant_id, _ in wanted}
        ).values_list("pk", "room_session__room_session_id", "participant_id", "details_synced_at")
    }
    pks, retried, given_up = set(), 0, 0
    for session_id, participant_id, attempt in wanted:
        found = stored.get((session_id, participant_id))
        if found is not None:
            if found[1] is None:
                pks.add(found[0])
        elif attempt >= schedule.DETAIL_TRIES:
            given_up += 1  # left to the scheduled sync
        else:
            schedule.detail_fetch(session_id, participant_id, schedule.now(), attempt=attempt + 1)
            retried += 1
    done = [f"{len(wanted)} connections"]
    if pks:
        result = enqueue_sync(kind=SyncKind.DETAILS, trigger=SyncTrigger.WEBHOOK, participant_ids=sorted(pks))
        done.append(f"details sync run #{result.run.pk} for {len(pks)}")
    if retried:
        done.append(f"{retried} not stored yet, tried again later")
    if given_up:
        done.append(f"{given_up} still not stored: left to the scheduled sync")
    return "; ".join(done)
