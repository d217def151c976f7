"""RQ entry points of the alerts: the scheduled tick and one webhook delivery."""

from __future__ import annotations

from django.db import close_old_connections

from ..site import this_site_only
from .engine import evaluate
from .webhook import deliver_job


@this_site_only
def evaluate_alerts_job() -> dict[str, int]:
    """Cron job: evaluate every rule once; returns how many alerts were raised, resolved, open."""
    close_old_connections()
    try:
        return evaluate().counts()
    finally:
        close_old_connections()


@this_site_only
def deliver_webhook_job(alert_id: int, event: str) -> str:
    """RQ job: post one event of one alert to the outgoing webhook (RQ retries a failure)."""
    close_old_connections()
    try:
        return deliver_job(alert_id, event)
    finally:
        close_old_connections()
