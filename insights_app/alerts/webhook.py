"""The outgoing webhook: posted from RQ within a total deadline per attempt, retried by RQ, every
outcome recorded on the alert. The URL and token are secrets: never in job arguments, logs or errors."""

from __future__ import annotations

import logging
from typing import Any

import requests
from django.utils import timezone
from rq import Retry, get_current_job

from .. import __version__
from ..models import Alert
from .deadline import DeadlineExceeded, call_within
from .formats import payload
from .settings import alert_settings

logger = logging.getLogger(__name__)

USER_AGENT = f"django-whereby-insights/{__version__} alerts"
# The RQ job's own timeout beyond WEBHOOK_TIMEOUT: reading the alert and recording the outcome.
JOB_SLACK_SECONDS = 15


class WebhookFailed(Exception):
    """The hook did not accept the message; the text names the reason, never the URL or token."""


def _send(url: str, body: dict[str, Any], headers: dict[str, str], timeout: float) -> int:
    # stream=True: the status line and headers are the answer; a body (trickled or not) is never read.
    with requests.post(
        url, json=body, headers=headers, timeout=(timeout, timeout), allow_redirects=False, stream=True
    ) as response:
        return response.status_code


def post(alert: Alert, event: str) -> int:
    """POST the message once, within WEBHOOK_TIMEOUT in total; returns the status, or raises
    WebhookFailed (masked)."""
    values = alert_settings()
    headers = {"User-Agent": USER_AGENT}
    if values["WEBHOOK_TOKEN"]:
        headers["Authorization"] = f"Bearer {values['WEBHOOK_TOKEN']}"
    body = payload(alert, event, values["WEBHOOK_FORMAT"])
    timeout = float(values["WEBHOOK_TIMEOUT"])
    try:
        status = call_within(
            timeout, lambda: _send(values["WEBHOOK_URL"], body, headers, timeout), "the alert webhook"
        )
    except DeadlineExceeded as exc:
        raise WebhookFailed(str(exc)) from None
    except requests.RequestException as exc:
        # requests' messages quote the URL (its path is the secret of a Slack hook): name the kind only.
        raise WebhookFailed(f"{type(exc).__name__} posting to the alert webhook") from None
    if not 200 <= status < 300:
        raise WebhookFailed(f"the alert webhook answered HTTP {status}")
    return status


def retry_policy() -> Retry | None:
    """RQ retries for one delivery, from WEBHOOK_RETRY_INTERVALS."""
    intervals = [int(i) for i in alert_settings()["WEBHOOK_RETRY_INTERVALS"] or []]
    return Retry(max=len(intervals), interval=intervals) if intervals else None


def job_timeout() -> int:
    """The delivery job's RQ timeout: one attempt's deadline and a little bookkeeping."""
    return int(float(alert_settings()["WEBHOOK_TIMEOUT"])) + 1 + JOB_SLACK_SECONDS


def record(alert_id: int, key: str, outcome: str) -> None:
    """Note a channel's outcome on the alert (shown in the admin)."""
    alert = Alert.objects.filter(pk=alert_id).only("deliveries").first()
    if alert is not None:
        Alert.objects.filter(pk=alert_id).update(deliveries={**(alert.deliveries or {}), key: outcome})


def _reason(exc: Exception) -> str:
    """What went wrong, in words that never quote the URL or token (only our own messages are shown)."""
    return str(exc) if isinstance(exc, WebhookFailed) else type(exc).__name__


def deliver_job(alert_id: int, event: str) -> str:
    """RQ job: post one event of one alert; every attempt's outcome is recorded on the alert."""
    alert = Alert.objects.filter(pk=alert_id).first()
    if alert is None:
        return "gone"
    job = get_current_job()
    intervals = [int(i) for i in alert_settings()["WEBHOOK_RETRY_INTERVALS"] or []]
    left = (job.retries_left or 0) if job else 0
    attempt = 1 + len(intervals) - left if job else 1
    key = f"webhook:{event}"
    try:
        status = post(alert, event)
    except Exception as exc:  # every failure is recorded, then RQ retries or gives up
        reason = _reason(exc)
        if not left:
            logger.warning("alert %s: %s; giving up after %s attempts", alert_id, reason, attempt)
            record(alert_id, key, f"failed after {attempt} attempts: {reason}")
        else:
            wait = intervals[len(intervals) - left] if len(intervals) >= left else 0
            logger.info("alert %s: %s; RQ retries it (attempt %s)", alert_id, reason, attempt)
            record(alert_id, key, f"attempt {attempt} failed: {reason}; retry in {wait} s")
        raise
    outcome = f"sent {timezone.now().isoformat(timespec='seconds')} (HTTP {status}, attempt {attempt})"
    record(alert_id, key, outcome)
    return outcome
