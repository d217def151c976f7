"""RQ entry points of the webhook machinery (thin: each calls one service function)."""

from __future__ import annotations

import logging
from datetime import timedelta

import redis
from django.utils import timezone

from ..conf import get_settings
from ..jobs.enqueue import enqueue_sync
from ..jobs.entry_points import fresh_connections
from ..jobs.queue import get_queue
from ..models import Participant, SyncKind, SyncTrigger, WebhookEvent, WebhookOutcome
from . import effects, schedule

logger = logging.getLogger(__name__)


def processing_job_id(event_pk: int) -> str:
    """One job per stored event."""
    return f"insights-webhook-event-{event_pk}"


def enqueue_processing(event_pk: int) -> None:
    """Queue an event's processing (called after the storing transaction commits)."""
    try:
        get_queue().enqueue_call(
            process_event,
            args=(event_pk,),
            job_id=processing_job_id(event_pk),
            timeout=300,
            result_ttl=3600,
            failure_ttl=7 * 86400,
        )
    except (redis.RedisError, OSError) as error:
        # Stored and pending: requeue_pending_events picks it up once Redis answers again.
        logger.warning("webhook event #%s stored but not queued: %s", event_pk, type(error).__name__)


def requeue_pending_events(older_than_seconds: float = 60) -> int:
    """Queue events still pending after a while (Redis was down when they arrived); returns how many."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    pks = list(
        WebhookEvent.objects.filter(outcome=WebhookOutcome.PENDING, received_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:1000]
    )
    for pk in pks:
        enqueue_processing(pk)
    return len(pks)


# A job drains the backlog too: a burst of events then costs a few jobs' start-up, not one per event.
DRAIN_LIMIT = 500


@fresh_connections
def requeue_pending_events_job() -> int:
    """Cron job: queue events that arrived while Redis was down."""
    return requeue_pending_events()


@fresh_connections
def process_event(event_pk: int) -> str:
    """RQ job: apply one stored event, then other pending ones in createdAt order; failures are recorded."""
    detail = _process_one(event_pk)
    backlog = (
        WebhookEvent.objects.filter(outcome=WebhookOutcome.PENDING)
        .exclude(pk=event_pk)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:DRAIN_LIMIT]
    )
    for pk in list(backlog):
        try:
            _process_one(pk)
        except Exception:
            logger.exception("webhook event #%s failed; its own job will try again", pk)
    return detail


def _process_one(event_pk: int) -> str:
    try:
        return effects.process(event_pk)
    except Exception as error:
        WebhookEvent.objects.filter(pk=event_pk, processed_at__isnull=True).update(
            outcome=WebhookOutcome.FAILED, detail=f"{type(error).__name__}: {str(error)[:300]}"
        )
        raise


@fresh_connections
def run_room_sync(window_stamp: str) -> str:
    """RQ job (delayed): one room sync of every room whose session ended in the window."""
    names = schedule.take_rooms(window_stamp)
    if not names:
        return "no rooms in this window"
    result = enqueue_sync(kind=SyncKind.ROOM, trigger=SyncTrigger.WEBHOOK, room_names=names)
    return f"room sync run #{result.run.pk} for {len(names)} rooms"


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
            schedule.detail_fetch(session_id, participant_id, timezone.now(), attempt=attempt + 1)
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
