"""The outgoing webhook: a JSON body Slack and Teams incoming webhooks accept, posted from RQ with
a timeout and retries. The URL and token are secrets: never in job arguments, logs or errors."""

from __future__ import annotations

import logging
from typing import Any

import requests
from django.utils import timezone
from rq import Retry, get_current_job

from .. import __version__
from ..models import Alert
from .links import absolute, cause_url
from .settings import alert_settings

logger = logging.getLogger(__name__)
USER_AGENT = f"django-whereby-insights/{__version__} alerts"


class WebhookFailed(Exception):
    """The hook did not accept the message; the text names the reason, never the URL or token."""


def slack_escape(text: str) -> str:
    """Slack's (and Teams') message text treats &, < and > as markup: escape untrusted text."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def message_text(alert: Alert, event: str) -> str:
    """One short message: what, why, and a link when ALERTS["SITE_URL"] is set."""
    icon = "✅ Resolved" if event == "resolved" else "🔴 Alert"
    lines = [f"*{icon}: {slack_escape(alert.title)}*", slack_escape(alert.message)]
    link = absolute(cause_url(alert))
    if link:
        lines.append(f"<{link}|Show the cause>")
    return "\n".join(line for line in lines if line)


def payload(alert: Alert, event: str, style: str = "slack") -> dict[str, Any]:
    """The body: ``{"text": ...}`` (Slack, Teams connectors, Mattermost) or a Teams workflow card."""
    text = message_text(alert, event)
    if style == "teams":
        card = {
            "type": "AdaptiveCard",
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": "1.4",
            "body": [{"type": "TextBlock", "text": text, "wrap": True}],
        }
        return {
            "type": "message",
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
        }
    return {"text": text}


def post(alert: Alert, event: str) -> int:
    """POST the message once; returns the status, raises WebhookFailed (masked) otherwise."""
    values = alert_settings()
    headers = {"User-Agent": USER_AGENT}
    if values["WEBHOOK_TOKEN"]:
        headers["Authorization"] = f"Bearer {values['WEBHOOK_TOKEN']}"
    try:
        response = requests.post(
            values["WEBHOOK_URL"],
            json=payload(alert, event, values["WEBHOOK_FORMAT"]),
            headers=headers,
            timeout=float(values["WEBHOOK_TIMEOUT"]),
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        # requests' messages quote the URL (its path is the secret of a Slack hook): name the kind only.
        raise WebhookFailed(f"{type(exc).__name__} posting to the alert webhook") from None
    if not 200 <= response.status_code < 300:
        raise WebhookFailed(f"the alert webhook answered HTTP {response.status_code}")
    return response.status_code


def retry_policy() -> Retry | None:
    """RQ retries for one delivery, from WEBHOOK_RETRY_INTERVALS."""
    intervals = [int(i) for i in alert_settings()["WEBHOOK_RETRY_INTERVALS"] or []]
    return Retry(max=len(intervals), interval=intervals) if intervals else None


def record(alert_id: int, key: str, outcome: str) -> None:
    """Note a channel's outcome on the alert (shown in the admin)."""
    alert = Alert.objects.filter(pk=alert_id).only("deliveries").first()
    if alert is not None:
        Alert.objects.filter(pk=alert_id).update(deliveries={**(alert.deliveries or {}), key: outcome})


def deliver_job(alert_id: int, event: str) -> str:
    """RQ job: post one event of one alert; after the last retry the failure is recorded on the alert."""
    alert = Alert.objects.filter(pk=alert_id).first()
    if alert is None:
        return "gone"
    job = get_current_job()
    attempt = 1 + (
        len(alert_settings()["WEBHOOK_RETRY_INTERVALS"] or []) - (job.retries_left or 0) if job else 0
    )
    try:
        status = post(alert, event)
    except WebhookFailed as exc:
        if job is None or not job.retries_left:
            logger.warning("alert %s: %s; giving up after %s attempts", alert_id, exc, attempt)
            record(alert_id, f"webhook:{event}", f"failed after {attempt} attempts: {exc}")
        else:
            logger.info("alert %s: %s; RQ retries it (attempt %s)", alert_id, exc, attempt)
        raise
    outcome = f"sent {timezone.now().isoformat(timespec='seconds')} (HTTP {status}, attempt {attempt})"
    record(alert_id, f"webhook:{event}", outcome)
    return outcome
