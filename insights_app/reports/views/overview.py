"""Overview: KPIs against the previous period, usage charts, busiest rooms."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from ...display.numbers import format_num, format_signed
from ...models import Participant, RoomSession
from .. import charts
from ..queries import usage
from ..tables import Column, Table, format_cell
from .base import ReportView

TOP_ROOMS = 10
ROOM_COLUMNS = [
    Column("room__room_name", _("Room"), link_key="url"),
    Column("sessions", _("Sessions"), "int"),
    Column("minutes", _("Participant minutes"), "minutes"),
    Column("avg_seconds", _("Average length"), "duration"),
    Column("avg_size", _("Average size (people)"), "num"),
    Column("last_started", _("Last session"), "datetime"),
]

KPI_LABELS = {
    "sessions": (_("Sessions"), "int"),
    "participant_minutes": (_("Participant minutes"), "minutes"),
    "unique_participants": (_("Unique participants"), "int"),
    "recorder_minutes": (_("Recorder minutes"), "minutes"),
    "streamer_minutes": (_("Streamer minutes"), "minutes"),
    "avg_session_seconds": (_("Average session length"), "duration"),
    "avg_rating": (_("Average rating"), "num"),
}


# Above this growth a percentage is a large, meaningless number: say how many times instead.
MULTIPLE_FROM_PERCENT = 400.0


def change_text(value: float | None, before: float | None, kind: str) -> str:
    """The comparison with the previous period, in words that stay honest for tiny baselines."""
    if before is None or before == 0:
        # Nothing (or no sessions to average) in the period before: a percentage would be infinite.
        return str(_("no earlier data to compare")) if value else str(_("none in the previous period either"))
    if value is None:
        return str(_("none in this period; %(before)s before") % {"before": format_cell(before, kind)})
    change = (value - before) / before * 100.0
    previous = format_cell(before, kind)
    if change >= MULTIPLE_FROM_PERCENT:
        return str(
            _("%(times)s× the previous period (%(before)s)")
            % {"times": format_num(value / before, 1), "before": previous}
        )
    return str(
        _("%(change)s %% vs previous period (%(before)s)")
        % {"change": format_signed(change), "before": previous}
    )


def kpi_cards(values: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """KPIs in display order with label and kind."""
    cards = []
    for key, (label, kind) in KPI_LABELS.items():
        card = {"key": key, "label": label, "kind": kind, **values[key]}
        card["text"] = format_cell(card["value"], kind)
        card["change_text"] = change_text(card["value"], card["previous"], kind)
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
        top = [room_url(r) for r in usage.top_rooms(f, sessions, TOP_ROOMS)]
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
