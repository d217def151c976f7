"""Tell people about an alert event once: signal, email and (through RQ) the webhook."""

from __future__ import annotations

import logging

import django_rq

from ..conf import get_settings
from ..models import Alert
from ..models.clock import db_now
from ..signals import alert_raised, alert_resolved
from ..site import job_id, site_meta
from .deadline import DeadlineExceeded
from .email import send_alert_mail
from .settings import alert_settings
from .webhook import job_timeout, record, retry_policy

logger = logging.getLogger(__name__)
EVENTS = {"raised": alert_raised, "resolved": alert_resolved}


def webhook_queue_name() -> str:
    """WEBHOOK_QUEUE, else the alerts' QUEUE, else the app's QUEUE."""
    values = alert_settings()
    return str(values["WEBHOOK_QUEUE"] or values["QUEUE"] or get_settings().QUEUE)


def enqueue_webhook(alert: Alert, event: str) -> str:
    """Queue the webhook delivery (its URL is read in the worker, never put in the job)."""
    queue = django_rq.get_queue(webhook_queue_name())
    queue.enqueue_call(
        "insights_app.alerts.jobs.deliver_webhook_job",
        args=(alert.pk, event),
        job_id=job_id(f"alert-{alert.pk}-{event}"),
        timeout=job_timeout(),
        retry=retry_policy(),
        result_ttl=86400,
        failure_ttl=7 * 86400,
        meta=site_meta(),
    )
    return "queued"


def notify(alert: Alert, event: str, tick: dict[str, bool] | None = None) -> dict[str, str]:
    """Send ``event`` ("raised" or "resolved") on every channel; one channel failing spares the others.

    ``tick`` is shared by the notifications of one tick: once the mail server has missed its
    deadline, the tick's later mails are skipped (and recorded so), so a dead mail server costs a
    tick one EMAIL_TIMEOUT, not one per alert (the tick's own RQ timeout is 300 s).
    """
    tick = {} if tick is None else tick
    outcomes: dict[str, str] = {}
    for receiver, response in EVENTS[event].send_robust(sender=Alert, alert=alert):
        if isinstance(response, Exception):
            logger.error(
                "alert %s: signal receiver %r failed: %s", alert.pk, receiver, type(response).__name__
            )
    outcomes["signal"] = "sent"
    if tick.get("mail_missed_deadline"):
        outcomes["email"] = "skipped: the mail server missed its deadline earlier in this tick"
    else:
        try:
            outcomes["email"] = send_alert_mail(alert, event)
        except Exception as exc:  # (a mail server down must not stop the other channels)
            logger.error("alert %s: could not send mail: %s", alert.pk, type(exc).__name__)
            outcomes["email"] = f"failed: {type(exc).__name__}"
            tick["mail_missed_deadline"] = isinstance(exc, DeadlineExceeded)
    hook = bool(alert_settings()["WEBHOOK_URL"])
    if hook:
        outcomes["webhook"] = "queued"
    stamp = "notified_at" if event == "raised" else "resolved_notified_at"
    now = db_now()  # the engine claims the alert on the database's clock: one clock for its times
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
