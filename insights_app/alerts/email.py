"""Alert mail through Django's mail framework: ALERTS["EMAIL_TO"], or mail_admins when unset."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import get_connection, mail_admins, send_mail
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from ..models import Alert
from .deadline import call_within
from .links import absolute, cause_url
from .settings import alert_settings


def one_line(text: str, limit: int = 200) -> str:
    """Text safe for a mail header: control characters (a newline would be header injection) removed."""
    cleaned = "".join(c if c.isprintable() else " " for c in str(text))
    return " ".join(cleaned.split())[:limit]


def _connection(timeout: float) -> Any:
    """The site's mail backend, its socket timeout no longer than ours (a backend without one as is)."""
    site_timeout = getattr(settings, "EMAIL_TIMEOUT", None)
    try:
        return get_connection(timeout=min(timeout, site_timeout or timeout))
    except TypeError:  # a custom backend that takes no timeout
        return get_connection()


def send_alert_mail(alert: Alert, event: str) -> str:
    """Send one mail for ``event`` ("raised" or "resolved"); returns what happened, for the record."""
    values = alert_settings()
    recipients = values["EMAIL_TO"]
    if recipients is not None and not recipients:
        return "off"
    if recipients is None and not getattr(settings, "ADMINS", None):
        # mail_admins sends nothing when ADMINS is empty: say so rather than "sent" (check W006 warns).
        return "no recipients: ADMINS is empty and ALERTS['EMAIL_TO'] is not set"
    line = _("Resolved: %(title)s") if event == "resolved" else _("Alert: %(title)s")
    subject = one_line(values["EMAIL_SUBJECT_PREFIX"] + line % {"title": alert.title})
    context = {"alert": alert, "event": event, "link": absolute(cause_url(alert))}
    text = render_to_string("insights_app/alerts/email.txt", context)
    html = render_to_string("insights_app/alerts/email.html", context)
    timeout = float(values["EMAIL_TIMEOUT"])
    # The backend's socket timeout bounds each read; call_within bounds the whole conversation.
    connection = _connection(timeout)
    if recipients is None:
        # mail_admins adds Django's EMAIL_SUBJECT_PREFIX; ours already says where the mail is from.
        call_within(
            timeout,
            lambda: mail_admins(subject, text, html_message=html, connection=connection),
            "the mail server",
        )
        return "sent to ADMINS"
    call_within(
        timeout,
        lambda: send_mail(subject, text, None, list(recipients), html_message=html, connection=connection),
        "the mail server",
    )
    return f"sent to {len(recipients)} recipients"
