"""Overview: KPIs against the previous period, usage charts, busiest rooms."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from ...models import Participant, RoomSession
from .. import charts
from ..queries import usage
from ..tables import Column, Table, format_cell
from .base import ReportView

TOP_ROOMS = 10
ROOM_COLUMNS = [
    Column("room__room_name", _("Room"), link_key="url"),
    Column("sessions", _("Sessions"), "int"),
    Column("minutes", _("Participant minutes"), "num"),
    Column("avg_seconds", _("Average length"), "duration"),
    Column("avg_size", _("Average size (people)"), "num"),
    Column("last_started", _("Last session"), "datetime"),
]

KPI_LABELS = {
    "sessions": (_("Sessions"), "int"),
    "participant_minutes": (_("Participant minutes"), "num"),
    "unique_participants": (_("Unique participants"), "int"),
    "recorder_minutes": (_("Recorder minutes"), "num"),
    "streamer_minutes": (_("Streamer minutes"), "num"),
    "avg_session_seconds": (_("Average session length"), "duration"),
    "avg_rating": (_("Average rating"), "num"),
}


def kpi_cards(values: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """KPIs in display order with label and kind."""
    cards = []
    for key, (label, kind) in KPI_LABELS.items():
        card = {"key": key, "label": label, "kind": kind, **values[key]}
        card["text"] = format_cell(card["value"], kind)
        card["change_text"] = "" if card["change"] is None else f"{card['change']:+.1f} %"
        cards.append(card)
    return cards


def room_url(row: dict[str, Any]) -> dict[str, Any]:
    """A rooms-ranking row with its room page link."""
    row["url"] = reverse("insights_app:room", args=[row["room_id"]])
    return row


class OverviewView(ReportView):
    """``/insights/``: how much video, where and when."""

    template_name = "insights_app/reports/overview.html"
    title = _("Video usage overview")
    stem = "overview"

    def build(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Sessions digest (1 query), unique people (1), rooms (1)."""
        sessions, participants = RoomSession.objects.all(), Participant.objects.all()
        f = self.filters
        digest = usage.usage_digest(f, sessions)
        values = usage.kpis(digest, usage.unique_people(f, participants))
        ranking = usage.rooms_ranking(f, sessions)
        top = [room_url(r) for r in ranking[:TOP_ROOMS]]
        rooms_table = Table(
            "top_rooms",
            _("Top rooms"),
            ROOM_COLUMNS,
            rows=top,
            all_rows=lambda: (room_url(r) for r in ranking.iterator(chunk_size=2000)),
            empty_text=_("No sessions in this period."),
        )
        chart_list = [
            charts.usage_chart(digest.series, f.period.bucket),
            charts.rooms_chart(top),
            charts.heatmap_chart(digest.grid),
            charts.sizes_chart(digest.sizes),
        ]
        return {
            "kpis": kpi_cards(values),
            "ongoing": values["ongoing"]["value"],
            "has_sessions": bool(values["sessions"]["value"]),
            "charts": chart_list,
            "tables": [rooms_table, *[c.table for c in chart_list if c.id != "rooms"]],
            "main_tables": [rooms_table],
        }
