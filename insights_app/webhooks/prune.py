"""Pruning: deliveries and rejection counts past WEBHOOK_EVENT_RETENTION_DAYS, presence past a day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q

from ..conf import get_settings
from ..jobs.entry_points import fresh_connections
from ..models import LiveConnection, LiveRoom, WebhookEvent, WebhookOutcome, WebhookRejection
from ..sync.clock import db_now
from .presence import KEEP_LEFT, TRUSTED_FOR, ghosts

BATCH_SIZE = 2000


@dataclass(frozen=True)
class Pruned:
    """How many rows a pruning pass deleted."""

    events: int
    rejections: int
    connections: int = 0
    rooms: int = 0


def prune_webhook_events(*, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> Pruned:
    """Delete events received before the retention window, a batch per statement; pending ones stay.

    A pending event was never processed (Redis was down, no worker): the sweep still owes it its work.
    """
    now = now or db_now()  # received_at and presence are stored on its clock
    cutoff = now - timedelta(days=get_settings().WEBHOOK_EVENT_RETENTION_DAYS)
    old = WebhookEvent.objects.filter(received_at__lt=cutoff).exclude(outcome=WebhookOutcome.PENDING)
    events = 0
    while True:
        pks = list(old.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not pks:
            break
        events += WebhookEvent.objects.filter(pk__in=pks).delete()[0]
    rejections = WebhookRejection.objects.filter(day__lt=cutoff.date()).delete()[0]
    connections, rooms = prune_presence(now=now)
    return Pruned(events, rejections, connections, rooms)


def prune_presence(*, now: datetime) -> tuple[int, int]:
    """Delete connections left over a day ago, ghosts a day after they stopped showing, and idle rooms.

    Event times are bounded by the time received (``events.bounded_instant``), so no row dated in
    the future outlives these bounds. Returns (connections, rooms) deleted.
    """
    cutoff = now - KEEP_LEFT
    connections = LiveConnection.objects.filter(left_at__lt=cutoff).delete()[0]
    connections += LiveConnection.objects.filter(
        pk__in=list(ghosts(now, TRUSTED_FOR + KEEP_LEFT).values_list("pk", flat=True))
    ).delete()[0]
    idle = Q()
    for column in ("counted_at", "session_started_at", "session_ended_at"):
        idle &= Q(**{f"{column}__isnull": True}) | Q(**{f"{column}__lt": cutoff})
    people = LiveConnection.objects.filter(room_name=OuterRef("room_name"))
    rooms = LiveRoom.objects.filter(idle).exclude(Exists(people)).delete()[0]
    return connections, rooms


@fresh_connections
def prune_job() -> int:
    """Cron job: prune old webhook events and presence; returns how many events were deleted."""
    return prune_webhook_events().events
