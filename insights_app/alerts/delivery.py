"""Tell people about an alert event once: signal, email and (through RQ) the webhook."""

from __future__ import annotations

import logging

import django_rq
from django.utils import timezone

from ..conf import get_settings
from ..models import Alert
from ..signals import alert_raised, alert_resolved
from .email import send_alert_mail
from .settings import alert_settings
from .webhook import record, retry_policy

logger = logging.getLogger(__name__)
EVENTS = {"raised": alert_raised, "resolved": alert_resolved}


def enqueue_webhook(alert: Alert, event: str) -> str:
    """Queue the webhook delivery (its URL is read in the worker, never put in the job)."""

    values = alert_settings()
    queue = django_rq.get_queue(values["QUEUE"] or get_settings().QUEUE)
    timeout = int(float(values["WEBHOOK_TIMEOUT"]) * 2 + 30)
    queue.enqueue_call(
        "insights_app.alerts.jobs.deliver_webhook_job",
        args=(alert.pk, event),
        job_id=f"insights-alert-{alert.pk}-{event}",
        timeout=timeout,
        retry=retry_policy(),
        result_ttl=86400,
        failure_ttl=7 * 86400,
    )
    return "queued"


def notify(alert: Alert, event: str) -> dict[str, str]:
    """Send ``event`` ("raised" or "resolved") on every channel; one channel failing spares the others."""
    outcomes: dict[str, str] = {}
    for receiver, response in EVENTS[event].send_robust(sender=Alert, alert=alert):
        if isinstance(response, Exception):
            logger.error(
                "alert %s: signal receiver %r failed: %s", alert.pk, receiver, type(response).__name__
            )
    outcomes["signal"] = "sent"
    try:
        outcomes["email"] = send_alert_mail(alert, event)
    except Exception as exc:  # (a mail server down must not stop the other channels)
        logger.error("alert %s: could not send mail: %s", alert.pk, type(exc).__name__)
        outcomes["email"] = f"failed: {type(exc).__name__}"
    hook = bool(alert_settings()["WEBHOOK_URL"])
    if hook:
        outcomes["webhook"] = "queued"
    stamp = "notified_at" if event == "raised" else "resolved_notified_at"
    now = timezone.now()
    current = Alert.objects.filter(pk=alert.pk).values_list("deliveries", flat=True).first() or {}
    alert.deliveries = {**current, **{f"{k}:{event}": v for k, v in outcomes.items()}}
    setattr(alert, stamp, now)
    # Written before the webhook job is queued, so the job's own record is never overwritten.
    Alert.objects.filter(pk=alert.pk).update(**{stamp: now}, deliveries=alert.deliveries)
    if hook:
        try:
            enqueue_webhook(alert, event)
        except Exception as exc:  # (Redis down: recorded, the tick goes on)
            logger.error("alert %s: could not queue the webhook: %s", alert.pk, type(exc).__name__)
            outcomes["webhook"] = f"not queued: {type(exc).__name__}"
            record(alert.pk, f"webhook:{event}", outcomes["webhook"])
    return outcomes
