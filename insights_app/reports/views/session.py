"""Session: a timeline of connections (reconnects share a row), roles and per-connection quality."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from ...display.durations import format_duration
from ...display.names import real_name, shown_name
from ...display.numbers import format_int, format_minutes
from ...display.roles import role_label
from ...display.safetext import isolated
from ...display.times import format_datetime
from ...models import Participant, RoomSession
from .. import charts
from ..labels import resolve_labels
from ..periods import period_query_including
from ..tables import Column, Table
from .base import ReportView, elapsed_seconds
from .fetch import MAX_CONNECTIONS

QUALITY_WORDS = {"good": _("good"), "degraded": _("degraded"), "unknown": _("no data")}
CONNECTION_COLUMNS = [
    Column("row", _("Participant"), link_key="person_url"),
    Column("role", _("Role"), "role"),
    Column("joined_at", _("Joined"), "datetime"),
    Column("left_at", _("Left"), "datetime"),
    Column("seconds", _("Duration"), "duration"),
    Column("browser", _("Browser")),
    Column("os", _("OS")),
    Column("device", _("Device")),
    Column("max_packet_loss", _("Max loss (%)"), "num"),
    Column("avg_packet_loss", _("Avg loss (%)"), "num"),
    Column("degraded_seconds", _("Time at or above the loss threshold"), "duration"),
    Column("quality", _("Quality"), link_key="quality_url"),
    Column("participant_id", _("Participant id")),
]


def _local(value: Any) -> str:
    return format_datetime(value, "H:i:s") if value else str(_("now"))


def quality_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """How many connections were measured and degraded, and the time spent above the threshold."""
    measured = [r for r in rows if r["quality_key"] != "unknown"]
    degraded = [r for r in measured if r["quality_key"] == "degraded"]
    return {
        "connections": format_int(len(rows)),
        "measured": format_int(len(measured)),
        "degraded": format_int(len(degraded)),
        # One details run fetches at most MAX_CONNECTIONS; a bigger session takes more than one click.
        "fetch_count": min(sum(1 for r in rows if r["quality_key"] == "unknown"), MAX_CONNECTIONS),
        "degraded_time": format_duration(sum(r["degraded_seconds"] or 0 for r in measured)),
        "has_measured": bool(measured),
    }


def connection_rows(
    participants: list[Participant], now: Any, person_query: str = ""
) -> list[dict[str, Any]]:
    """Rows for the timeline and the table; one label lookup for all external ids.

    ``person_query`` goes on each person link: a period that holds this session.
    """
    labels = resolve_labels(p.external_id for p in participants if p.external_id)
    words = {key: str(word) for key, word in QUALITY_WORDS.items()}  # translated once, not per row
    rows: list[dict[str, Any]] = []
    for p in participants:
        label = labels.get(p.external_id) if p.external_id else None
        name = real_name(p.display_name) or (label.text if label else "") or shown_name(p.display_name)
        # Reconnects are new participant ids of the same person: give them one timeline row.
        identity = p.identity or p.participant_id
        ongoing = p.duration_seconds is None  # the sync caps a missing leftAt at the session end
        seconds = p.duration_seconds if not ongoing else elapsed_seconds(p.joined_at, None, now)
        if p.quality_degraded is None:
            quality_key = "unknown"
        else:
            quality_key = "degraded" if p.quality_degraded else "good"
        rows.append(
            {
                "pk": p.pk,
                "quality_key": quality_key,
                "identity": identity,
                "name": name,
                "role": p.role_name or "",
                "joined_at": p.joined_at,
                "left_at": p.left_at,
                "seconds": seconds or 0.0,
                "joined_local": _local(p.joined_at),
                "left_local": _local(p.left_at),
                "duration_text": format_duration(seconds) + (f" ({_('connected')})" if ongoing else ""),
                "browser": p.browser,
                "os": p.os,
                "device": p.device,
                "max_packet_loss": p.max_packet_loss,
                "avg_packet_loss": p.avg_packet_loss,
                "degraded_seconds": p.degraded_seconds,
                "quality": words[quality_key],
                "quality_url": reverse("insights_app:participant_quality", args=[p.pk]),
                "person_url": reverse("insights_app:person", args=[p.external_id]) + person_query
                if p.external_id
                else "",
                "participant_id": p.participant_id,
            }
        )
    # Same display name for two different people must not merge their rows.
    names: dict[str, set[str]] = {}
    for r in rows:
        names.setdefault(r["name"], set()).add(r["identity"])
    for r in rows:
        r["row"] = r["name"] if len(names[r["name"]]) == 1 else f"{r['name']} ({r['identity']})"
    return rows


class SessionView(ReportView):
    """``/insights/sessions/<pk>/``."""

    template_name = "insights_app/reports/session.html"
    room_filter = False
    period_filter = False  # one session or connection: the date range does not apply

    def build(self, request: HttpRequest, pk: int) -> dict[str, Any]:
        """Session with room (1) and its connections (1)."""
        session = get_object_or_404(RoomSession.objects.select_related("room"), pk=pk)
        participants = list(
            Participant.objects.filter(room_session_id=session.pk).order_by("joined_at", "participant_id")
        )
        period = period_query_including(session.started_at, self.now)
        rows = [r for r in connection_rows(participants, self.now, period) if r["joined_at"]]
        table = Table(
            "connections",
            _("Connections"),
            CONNECTION_COLUMNS,
            rows=rows,
            empty_text=_("No participants stored for this session."),
            note=_(
                "Names without a link joined without an external id (externalId on the meeting), "
                "so no person report can gather their sessions."
            )
            if any(not r["person_url"] for r in rows)
            else "",
        )
        chart_list = [charts.timeline_chart(rows)] if rows else []
        return {
            "title": _("Session in %(room)s")
            % {"room": isolated(session.room_name or session.room.room_name)},
            "session": session,
            "facts": {
                "started": format_datetime(session.started_at, "Y-m-d H:i:s"),
                "ended": format_datetime(session.ended_at, "Y-m-d H:i:s") if session.ended_at else "",
                "length": format_duration(elapsed_seconds(session.started_at, session.ended_at, self.now)),
                "minutes": format_minutes(session.total_participant_minutes),
            },
            "quality": {
                **quality_summary(rows),
                "fetch_url": reverse("insights_app:fetch_session_samples", args=[session.pk]),
            },
            "room_url": reverse("insights_app:room", args=[session.room_id]),
            "stem": f"session-{session.pk}",
            "charts": chart_list,
            "tables": [table],
            "main_tables": [table],
            "roles": sorted({role_label(r["role"]) for r in rows if r["role"]}),
            "people_count": format_int(len({r["identity"] for r in rows})),
        }
