"""The app's stored code names (``org``, ``pseudonymise``, ``webhook:raised``) as translated words for the admin."""

from __future__ import annotations

from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..display.numbers import EMPTY, format_int
from ..models import CriterionKind, Room, SyncTrigger

MODE_LABELS = {"pseudonymise": _("pseudonymise"), "delete": _("delete")}
CHANNEL_LABELS = {"signal": _("signal"), "email": _("email"), "webhook": _("webhook")}
EVENT_LABELS = {"raised": _("raised"), "resolved": _("resolved")}
# Outcomes recorded as a fixed word; longer ones ("failed after 4 attempts: HTTP 500") are shown as recorded.
OUTCOME_LABELS = {
    "sent": _("sent"),
    "off": _("off"),
    "queued": _("queued"),
    "sent to ADMINS": _("sent to ADMINS"),
}
# Kinds of rows an erasure counts besides connections and detail rows (the hooks' own keys).
ROW_LABELS = {
    "sync runs": _("sync runs"),
    "live presence": _("live presence"),
    "webhook events": _("webhook events"),
}


def _word(labels: dict[str, Any], code: str | None) -> str:
    """The label of a known code; an unknown one as stored; ``—`` for none."""
    if not code:
        return EMPTY
    label = labels.get(code)
    return str(label) if label is not None else code


def mode_label(mode: str | None) -> str:
    """An erasure's or retention's mode in words."""
    return _word(MODE_LABELS, mode)


def trigger_label(trigger: str | None) -> str:
    """Who or what started it (the same words as a sync run's trigger)."""
    return _word(dict(SyncTrigger.choices), trigger)


def criterion_label(kind: str | None) -> str:
    """Which field an erasure named."""
    return _word(dict(CriterionKind.choices), kind)


def subject_label(subject: str) -> str:
    """What an alert is about: "the organisation", "room /standup", "queue whereby_insights"."""
    kind, _sep, rest = subject.partition(":")
    if subject == "org":
        return gettext("the organisation")
    if kind == "room" and rest.isdigit():
        name = Room.objects.filter(pk=int(rest)).values_list("room_name", flat=True).first()
        return gettext("room %(name)s") % {"name": name if name is not None else rest}
    if kind == "queue" and rest:
        return gettext("queue %(name)s") % {"name": rest}
    return subject


def deliveries_list(deliveries: dict[str, Any] | None) -> str:
    """Each channel's outcome per event, one line each ("email, raised: sent to ADMINS"), escaped."""
    if not deliveries:
        return EMPTY
    lines = []
    for key, outcome in sorted(deliveries.items()):
        channel, _sep, event = str(key).partition(":")
        lines.append(
            (_word(CHANNEL_LABELS, channel), _word(EVENT_LABELS, event), _word(OUTCOME_LABELS, str(outcome)))
        )
    return format_html(
        '<ul class="insights-deliveries">{}</ul>', format_html_join("", "<li>{}, {}: {}</li>", lines)
    )


# A run's scope keys (``SyncRun.scope``).
SCOPE_LABELS = {
    "room_names": _("rooms"),
    "room_session_ids": _("sessions"),
    "external_id": _("external id"),
    "participant_ids": _("connections"),
}


def scope_list(scope: dict[str, Any] | None) -> str:
    """What a run covers, a line per kind ("rooms: /standup, /sales"), escaped; ``—`` for everything."""
    if not scope:
        return EMPTY
    rows = []
    for key, value in sorted(scope.items()):
        values = value if isinstance(value, list) else [value]
        rows.append((_word(SCOPE_LABELS, str(key)), ", ".join(str(v) for v in values)))
    return format_html('<ul class="insights-counts">{}</ul>', format_html_join("", "<li>{}: {}</li>", rows))


def counts_list(counts: dict[str, Any] | None) -> str:
    """Counts per kind of row ({"live presence": 2}) as lines "live presence: 2", escaped."""
    if not counts:
        return EMPTY
    rows = [
        (_word(ROW_LABELS, str(k)), format_int(v) if isinstance(v, int) else str(v))
        for k, v in sorted(counts.items())
    ]
    return format_html('<ul class="insights-counts">{}</ul>', format_html_join("", "<li>{}: {}</li>", rows))
