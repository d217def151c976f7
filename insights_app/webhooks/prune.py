"""Pruning of old deliveries: events and rejection counts older than WEBHOOK_EVENT_RETENTION_DAYS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from ..conf import get_settings
from ..jobs.entry_points import fresh_connections
from ..models import WebhookEvent, WebhookOutcome, WebhookRejection

BATCH_SIZE = 2000


@dataclass(frozen=True)
class Pruned:
    """How many rows a pruning pass deleted."""

    events: int
    rejections: int


def prune_webhook_events(*, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> Pruned:
    """Delete events received before the retention window, a batch per statement; pending ones stay.

    A pending event was never processed (Redis was down, no worker): the sweep still owes it its work.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=get_settings().WEBHOOK_EVENT_RETENTION_DAYS)
    old = WebhookEvent.objects.filter(received_at__lt=cutoff).exclude(outcome=WebhookOutcome.PENDING)
    events = 0
    while True:
        pks = list(old.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not pks:
            break
        events += WebhookEvent.objects.filter(pk__in=pks).delete()[0]
    rejections = WebhookRejection.objects.filter(day__lt=cutoff.date()).delete()[0]
    return Pruned(events, rejections)


@fresh_connections
def prune_job() -> int:
    """Cron job: prune old webhook events; returns how many were deleted."""
    return prune_webhook_events().events
