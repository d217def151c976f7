"""Alert mail through Django's mail framework: ALERTS["EMAIL_TO"], or mail_admins when unset."""

from __future__ import annotations

from django.core.mail import mail_admins, send_mail
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from ..models import Alert
from .links import absolute, cause_url
from .settings import alert_settings


def one_line(text: str, limit: int = 200) -> str:
    """Text safe for a mail header: control characters (a newline would be header injection) removed."""
    cleaned = "".join(c if c.isprintable() else " " for c in str(text))
    return " ".join(cleaned.split())[:limit]


def send_alert_mail(alert: Alert, event: str) -> str:
    """Send one mail for ``event`` ("raised" or "resolved"); returns what happened, for the record."""
    values = alert_settings()
    recipients = values["EMAIL_TO"]
    if recipients is not None and not recipients:
        return "off"
    line = _("Resolved: %(title)s") if event == "resolved" else _("Alert: %(title)s")
    subject = one_line(values["EMAIL_SUBJECT_PREFIX"] + line % {"title": alert.title})
    context = {"alert": alert, "event": event, "link": absolute(cause_url(alert))}
    text = render_to_string("insights_app/alerts/email.txt", context)
    html = render_to_string("insights_app/alerts/email.html", context)
    if recipients is None:
        # mail_admins adds Django's EMAIL_SUBJECT_PREFIX; ours already says where the mail is from.
        mail_admins(subject, text, html_message=html)
        return "sent to ADMINS"
    send_mail(subject, text, None, list(recipients), html_message=html)
    return f"sent to {len(recipients)} recipients"
