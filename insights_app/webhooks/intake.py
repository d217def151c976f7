"""The webhook endpoint: verify the signature over the raw body, store the event once, answer fast."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.db import DatabaseError, DataError, IntegrityError, transaction
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ..conf import get_settings
from ..models import WebhookEvent
from ..sync.clock import db_now
from . import rejections
from .events import ParsedEvent, PayloadError, bounded_instant, parse_event
from .jobs import enqueue_processing
from .signature import HEADER, SignatureError, verify

logger = logging.getLogger(__name__)

# Whereby's in-room events are well under 4 KiB; anything near this is not one of them.
MAX_BODY_BYTES = 64 * 1024


def configured_secret() -> str | None:
    """The endpoint's signing secret, or None when webhooks are off (blank or not a string)."""
    secret = get_settings().WEBHOOK_SECRET
    return secret if isinstance(secret, str) and secret.strip() else None


def _refuse(status: int, reason: str, message: str) -> JsonResponse:
    rejections.record(reason)
    return JsonResponse({"error": message}, status=status)


@csrf_exempt  # Whereby cannot send a CSRF token; the HMAC signature authenticates the request instead
@require_POST
def whereby_webhook(request: HttpRequest) -> JsonResponse:
    """Verify, store once per event id, queue the work after commit; 4xx stores nothing, 5xx asks for a retry."""
    secret = configured_secret()
    if secret is None:
        raise Http404("webhooks are not configured")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        return _refuse(413, "too_large", f"the body is larger than {MAX_BODY_BYTES} bytes")
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return _refuse(413, "too_large", f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        verify(
            secret,
            request.headers.get(HEADER),
            body,
            now=time.time(),
            tolerance=float(get_settings().WEBHOOK_TOLERANCE_SECONDS),
        )
    except SignatureError as error:
        return _refuse(400, error.reason, str(error))
    try:
        event = parse_event(body)
    except PayloadError as error:
        return _refuse(400, "invalid_payload", str(error))
    try:
        created = store(event)
    except DataError as error:
        # A value the database refuses is refused again on every retry: a 4xx, counted, not a 503.
        logger.warning(
            "webhook event %s has a value the database refuses: %s", event.event_id, type(error).__name__
        )
        return _refuse(400, "unstorable", "the event holds a value the database cannot store")
    except DatabaseError as error:
        # The only case where Whereby should retry: we could not keep the event.
        logger.error("webhook event %s could not be stored: %s", event.event_id, type(error).__name__)
        return JsonResponse({"error": "could not store the event; retry"}, status=503)
    return JsonResponse(
        {"status": "accepted" if created else "duplicate", "id": event.event_id},
        status=202 if created else 200,
    )


# Whereby's POST target, not a page to link to (the host-site crawl skips views marked so).
whereby_webhook.post_only = True  # type: ignore[attr-defined]


def event_time_bounds() -> tuple[timedelta, timedelta]:
    """How far ``createdAt`` may be ahead of the time received (the signature's tolerance) and behind it."""
    settings = get_settings()
    return (
        timedelta(seconds=float(settings.WEBHOOK_TOLERANCE_SECONDS)),
        timedelta(days=float(settings.WEBHOOK_EVENT_RETENTION_DAYS)),
    )


def store(event: ParsedEvent, *, received_at: datetime | None = None) -> bool:
    """Insert the event and queue its processing after commit; False when that id was stored before."""
    received_at = received_at or db_now()  # the clock every process compares it with
    ahead, oldest = event_time_bounds()
    try:
        with transaction.atomic():
            row = WebhookEvent.objects.create(
                event_id=event.event_id,
                type=event.type,
                api_version=event.api_version,
                created_at=bounded_instant(event.created_at, received_at, ahead=ahead, oldest=oldest),
                received_at=received_at,
                room_name=event.room_name,
                room_session_id=event.room_session_id,
                participant_id=event.participant_id,
                raw=event.raw,
            )
            # robust: Redis being down must not lose the stored event; the sweep queues it later.
            transaction.on_commit(lambda: enqueue_processing(row.pk), robust=True)
    except IntegrityError:
        if WebhookEvent.objects.filter(event_id=event.event_id).exists():
            return False
        raise
    return True
