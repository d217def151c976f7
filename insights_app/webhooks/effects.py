"""What a stored event leads to: presence now, and a room sync or detail fetch once the API has the data."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from ..conf import get_settings
from ..models import WebhookEvent, WebhookOutcome
from ..sync import lag
from . import catchup, presence, schedule
from .events import JOINED, LEFT, SESSION_ENDED, SESSION_STARTED, count, data_of

logger = logging.getLogger(__name__)


def process(event_pk: int) -> str:
    """Apply one stored event once (a retried or duplicate job finds it processed and stops)."""
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().filter(pk=event_pk).first()
        if event is None or event.processed_at is not None:
            return "already processed" if event else "no such event"
        outcome, detail = apply(event)
        WebhookEvent.objects.filter(pk=event.pk).update(
            processed_at=timezone.now(), outcome=outcome, detail=detail[:1000]
        )
    return detail


def apply(event: WebhookEvent) -> tuple[str, str]:
    """The event's effects; (outcome, what was done)."""
    kind = event.type
    if kind == JOINED:
        return WebhookOutcome.PROCESSED, presence.client_joined(event)
    if kind == LEFT:
        done = [presence.client_left(event)]
        at = presence.event_time(event)
        if count(data_of(event.raw).get("numClients")) == 0 and event.room_name:
            done.append(schedule.room_sync(event.room_name, at))
        if get_settings().DETAIL_POLICY != "none" and event.room_session_id and event.participant_id:
            done.append(schedule.detail_fetch(event.room_session_id, event.participant_id, at))
        return WebhookOutcome.PROCESSED, "; ".join(done)
    if kind == SESSION_STARTED:
        return WebhookOutcome.PROCESSED, presence.session_started(event)
    if kind == SESSION_ENDED:
        done = [presence.session_ended(event)]
        if event.room_name:
            at = presence.event_time(event)
            first_look, probe = lag.first_look()
            done.append(schedule.room_sync(event.room_name, at, first_look))
            # Followed on its own: a sync already pending for the room may come before this session
            # shows ended, and the lag may outlast the delay.
            done.append(catchup.await_session(event.room_name, at, first_look, probe=probe))
        return WebhookOutcome.PROCESSED, "; ".join(done)
    return WebhookOutcome.IGNORED, f"{kind} is not used"
