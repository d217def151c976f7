"""Whether webhooks are working, so the scheduled sync can be a cheap safety net (docs/webhooks.md)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from ..conf import get_settings
from ..models import LiveRoom, Room, WebhookEvent, WebhookOutcome

# Deliveries seen this recently show the endpoint is reached; events stuck longer than the grace
# (pending or failed) show the processing is not keeping up.
SEEN_WITHIN = timedelta(days=1)
STUCK_AFTER = timedelta(minutes=10)
# A room counted as occupied this long ago without any event since is read again by the safety net.
OCCUPIED_TRUSTED_FOR = timedelta(hours=12)


def webhooks_healthy() -> bool:
    """True when a secret is set, a delivery arrived in the last day and none of that day's is stuck.

    Then a room merely active (a session in progress or just ended) with unchanged totals needs no
    scheduled re-read: its ``room.session.ended`` schedules its sync. A room whose totals changed is
    re-read whatever this says, so a lost delivery is still caught by the next scheduled sync.
    """
    secret = get_settings().WEBHOOK_SECRET
    if not (isinstance(secret, str) and secret.strip()):
        return False
    now = timezone.now()
    recent = WebhookEvent.objects.filter(received_at__gte=now - SEEN_WITHIN)
    if not recent.exists():
        return False
    stuck = recent.filter(
        outcome__in=(WebhookOutcome.PENDING, WebhookOutcome.FAILED), received_at__lt=now - STUCK_AFTER
    )
    return not stuck.exists()


def rooms_occupied_now() -> set[int]:
    """Pks of rooms that webhooks say have people in them now (an event in the last 12 hours).

    Their totals grow while the call goes on; the sync their session end schedules reads them.
    """
    names = LiveRoom.objects.filter(
        num_clients__gt=0, counted_at__gte=timezone.now() - OCCUPIED_TRUSTED_FOR
    ).values_list("room_name", flat=True)
    return set(Room.objects.filter(room_name__in=names).values_list("pk", flat=True))
