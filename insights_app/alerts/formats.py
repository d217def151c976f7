"""The chat message of an alert in each hook format, untrusted text escaped by that format's own rules.

Room names, display names and API error texts are typed by people: a room called
``[Reset password](https://evil.example)`` must stay text, never become a link or markup.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext as _

from ..models import Alert
from .links import absolute, cause_url

# Every ASCII punctuation character may be backslash-escaped in CommonMark (and so in GFM,
# Mattermost and Teams connectors), and then stands for itself: no link, emphasis, heading or list.
_MARKDOWN_SPECIAL = re.compile(r"""([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])""")


def slack_escape(text: str) -> str:
    """Slack's mrkdwn: only ``&``, ``<`` and ``>`` are control characters (``<url|label>`` is a link)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def markdown_escape(text: str) -> str:
    """CommonMark: a backslash before every ASCII punctuation character, newlines kept as spaces."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _headline(event: str) -> str:
    return "✅ " + _("Resolved") if event == "resolved" else "🔴 " + _("Alert")


def slack_payload(alert: Alert, event: str) -> dict[str, Any]:
    """``{"text": ...}`` in Slack's mrkdwn, with ``<link|Show the cause>`` when SITE_URL is set."""
    lines = [f"*{_headline(event)}: {slack_escape(alert.title)}*", slack_escape(alert.message)]
    link = absolute(cause_url(alert))
    if link:
        lines.append(f"<{slack_escape(link)}|{slack_escape(_('Show the cause'))}>")
    return {"text": "\n".join(line for line in lines if line)}


def markdown_payload(alert: Alert, event: str) -> dict[str, Any]:
    """``{"text": ...}`` in Markdown (Mattermost, Teams connectors, Rocket.Chat, Discord-like hooks)."""
    lines = [f"**{markdown_escape(_headline(event))}: {markdown_escape(alert.title)}**"]
    if alert.message:
        lines.append(markdown_escape(alert.message))
    link = absolute(cause_url(alert))
    if link:
        # The link's own URL is ours (SITE_URL and a path); angle brackets keep it one token.
        lines.append(
            f"[{markdown_escape(_('Show the cause'))}](<{link.replace('>', '%3E').replace('<', '%3C')}>)"
        )
    return {"text": "\n\n".join(lines)}


def teams_payload(alert: Alert, event: str) -> dict[str, Any]:
    """A Teams workflow ``message`` with one Adaptive Card.

    Untrusted text goes in ``TextRun`` inlines of a ``RichTextBlock``, which Adaptive Cards never
    read as Markdown (a ``TextBlock`` would); the link is an ``Action.OpenUrl`` button.
    """
    body: list[dict[str, Any]] = [
        {
            "type": "RichTextBlock",
            "inlines": [
                {"type": "TextRun", "text": f"{_headline(event)}: {alert.title}", "weight": "Bolder"}
            ],
        }
    ]
    if alert.message:
        body.append({"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": alert.message}]})
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": body,
    }
    link = absolute(cause_url(alert))
    if link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": _("Show the cause"), "url": link}]
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
    }


FORMATS = {"slack": slack_payload, "markdown": markdown_payload, "teams": teams_payload}


def payload(alert: Alert, event: str, style: str = "slack") -> dict[str, Any]:
    """The hook's JSON body for ``event`` ("raised" or "resolved") in the format ``style``."""
    return FORMATS[style](alert, event)
