"""Counts of refused deliveries per day and reason (the deliveries themselves are never stored)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from ..models import WebhookRejection

logger = logging.getLogger(__name__)


def record(reason: str) -> None:
    """Add one to today's count for ``reason``; a database hiccup here never changes the answer."""
    now = timezone.now()
    try:
        for _attempt in range(2):
            updated = WebhookRejection.objects.filter(day=now.date(), reason=reason).update(
                count=F("count") + 1, last_at=now
            )
            if updated:
                return
            try:
                with transaction.atomic():
                    WebhookRejection.objects.create(day=now.date(), reason=reason, count=1, last_at=now)
                return
            except IntegrityError:
                continue  # another request created today's row first: add to it
    except DatabaseError as error:
        logger.warning("could not count a rejected webhook delivery: %s", type(error).__name__)
    finally:
        logger.info("refused a webhook delivery: %s", reason)


def rejected_since(days: int = 7) -> int:
    """Deliveries refused over the last ``days`` days, today included."""
    first = timezone.now().date() - timedelta(days=days - 1)
    return WebhookRejection.objects.filter(day__gte=first).aggregate(n=Sum("count"))["n"] or 0
