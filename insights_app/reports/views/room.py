"""Room: its KPIs, usage over time and its sessions (paginated, sortable)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from ...display.durations import format_duration
from ...display.numbers import format_int
from ...display.safetext import isolated
from ...models import Participant, Room, RoomSession
from .. import charts
from ..queries import usage
from ..tables import Column
from .base import ReportView, elapsed_seconds, paged_table, sort_links
from .overview import kpi_cards

PER_PAGE = 50
SESSION_SORTS = {
    "started": ("-started_at", "-id"),
    "started_asc": ("started_at", "id"),
    "duration": ("-duration_seconds", "-started_at"),
    "size": ("-total_unique_participants", "-started_at"),
    "minutes": ("-total_participant_minutes", "-started_at"),
}
SESSION_SORT_LABELS = {
    "started": _("newest first"),
    "started_asc": _("oldest first"),
    "duration": _("longest"),
    "size": _("most participants"),
    "minutes": _("most participant minutes"),
}
SESSION_FIELDS = (
    "id",
    "room_session_id",
    "started_at",
    "ended_at",
    "duration_seconds",
    "total_unique_participants",
    "total_participant_minutes",
    "rating",
)


def session_row(row: dict[str, Any], now: Any) -> dict[str, Any]:
    """A session row with its page link and its length (to now while ongoing)."""
    row["url"] = reverse("insights_app:session", args=[row["id"]])
    if row["ended_at"] is None:
        row["duration_seconds"] = elapsed_seconds(row["started_at"], None, now)
        row["state"] = _("ongoing")
    else:
        row["state"] = _("ended")
    return row


SESSION_COLUMNS = [
    Column("started_at", _("Started"), "datetime", link_key="url"),
    Column("ended_at", _("Ended"), "datetime"),
    Column("state", _("State")),
    Column("duration_seconds", _("Length"), "duration"),
    Column("total_unique_participants", _("Participants"), "int"),
    Column("total_participant_minutes", _("Participant minutes"), "minutes"),
    Column("rating", _("Rating"), "num"),
    Column("room_session_id", _("Session id")),
]


class RoomView(ReportView):
    """``/insights/rooms/<pk>/``."""

    template_name = "insights_app/reports/room.html"
    room_filter = False

    def build(self, request: HttpRequest, pk: int) -> dict[str, Any]:
        """Room (1), sessions digest (1), people and quality (1), sessions count and page (2)."""
        room = get_object_or_404(Room, pk=pk)
        sessions = RoomSession.objects.filter(room_id=room.pk)
        participants = Participant.objects.filter(room_id=room.pk)
        f = self.filters
        sort = request.GET.get("sort", "started")
        sort = sort if sort in SESSION_SORTS else "started"
        ordering = SESSION_SORTS.get(sort, SESSION_SORTS["started"])
        listed = f.sessions(sessions).order_by(*ordering).values(*SESSION_FIELDS)
        now = self.now
        table = paged_table(
            request,
            listed,
            lambda rows: [session_row(r, now) for r in rows],
            per_page=PER_PAGE,
            name="sessions",
            title=_("Sessions"),
            columns=SESSION_COLUMNS,
            empty_text=_("No sessions in this period."),
        )
        table.sorts = sort_links(SESSION_SORTS, SESSION_SORT_LABELS, sort)
        digest = usage.usage_digest(f, sessions, room_id=room.pk)
        people, measured = usage.room_people_and_quality(f, participants)
        usage_chart = charts.usage_chart(digest.series, f.period.bucket)
        return {
            "title": _("Room %(name)s") % {"name": isolated(room.room_name)},
            "room": room,
            "stem": f"room-{room.pk}",
            "kpis": kpi_cards(usage.kpis(digest, people)),
            "quality": {
                "connections": format_int(measured["connections"]),
                "measured": format_int(measured["measured"]),
                "degraded": format_int(measured["degraded"]),
                "degraded_time": format_duration(measured["degraded_seconds"] or 0),
                "has_measured": bool(measured["measured"]),
                "quality_url": reverse("insights_app:quality") + "?" + f.querystring(room=room.room_name),
            },
            "charts": [usage_chart],
            "tables": [table, usage_chart.table],
            "main_tables": [table],
        }
