"""Quality overview: how many connections and minutes were degraded, where, on what, and worst sessions."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from ...conf import get_settings
from ...display.numbers import format_int, format_minutes, format_pct, plain_number
from ...models import Participant
from ...models.expressions import distinct_values
from .. import quality_charts
from ..filters import TEXT_FILTERS
from ..queries import quality
from ..tables import Column, Table
from .base import ReportView

TOP = 15
WORST = 20
WORST_COLUMNS = [
    Column("room_session__started_at", _("Started"), "datetime", link_key="url"),
    Column("room_session__room_name", _("Room"), link_key="room_url"),
    Column("measured", _("Measured connections"), "int"),
    Column("degraded", _("Degraded connections"), "int"),
    Column("degraded_minutes", _("Degraded minutes"), "minutes"),
    Column("degraded_minutes_pct", _("Minutes degraded (%)"), "num"),
    Column("worst_loss", _("Worst loss (%)"), "num"),
]


# The order of the bars and of these tables' rows (queries.quality.by_dimension and _ranked).
ORDER_NOTE = _("The most degraded minutes first, as the bars draw them.")


def worst_row(row: dict[str, Any]) -> dict[str, Any]:
    """A worst-sessions row with shares and links."""
    row = quality.with_shares(row)
    row["url"] = reverse("insights_app:session", args=[row["room_session_id"]])
    row["room_url"] = reverse("insights_app:room", args=[row["room_session__room_id"]])
    return row


def dimension_table(name: str, title: Any, axis: Any, qs: Any, top: list[dict[str, Any]]) -> Table:
    """Per-room/browser/OS quality, top rows on the page, all in the CSV."""
    columns = [
        Column("key", axis, link_key="url"),
        Column("measured", _("Measured connections"), "int"),
        Column("degraded", _("Degraded connections"), "int"),
        Column("degraded_pct", _("Connections degraded (%)"), "num"),
        Column("degraded_minutes", _("Degraded minutes"), "minutes"),
        Column("degraded_minutes_pct", _("Minutes degraded (%)"), "num"),
    ]
    return Table(
        name,
        title,
        columns,
        rows=top,
        all_rows=lambda: (_link(quality.with_shares(r)) for r in qs.iterator(chunk_size=2000)),
        note=ORDER_NOTE,
    )


def _link(row: dict[str, Any]) -> dict[str, Any]:
    if row.get("room_id"):
        row["url"] = reverse("insights_app:room", args=[row["room_id"]])
    return row


class QualityView(ReportView):
    """``/insights/quality/``."""

    template_name = "insights_app/reports/quality.html"
    title = _("Connection quality")
    stem = "quality"
    extra_filters = ("browser", "os", "role")

    def bar_links(self, dim: str, rows: list[dict[str, Any]]) -> list[str]:
        """Where a bar leads: its room's page, or this report narrowed to that browser or OS."""
        if dim == "room":
            return [r.get("url", "") for r in rows]
        return ["?" + self.filters.querystring(**{dim: r["key"] or "-"}) for r in rows]

    def build(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Digest (1), rooms (1), worst sessions (2), roles (1); CSVs re-run the full grouped queries."""
        f = self.filters
        participants = Participant.objects.all()
        digest = quality.quality_digest(f, participants)
        totals = digest.totals
        chart_list = [quality_charts.quality_time_chart(digest.series, f.period.bucket)]
        tables = []
        for dim, title, axis in (
            ("room", _("Quality by room"), _("Room")),
            ("browser", _("Quality by browser"), _("Browser")),
            ("os", _("Quality by operating system"), _("Operating system")),
        ):
            qs = quality.by_dimension(f, participants, dim)
            if dim == "room":
                top = [_link(quality.with_shares(dict(r))) for r in qs[:TOP]]
            else:
                top = [dict(r) for r in (digest.browsers if dim == "browser" else digest.systems)[:TOP]]
                for row, url in zip(top, self.bar_links(dim, top), strict=True):
                    row["url"] = url
            chart_list.append(
                quality_charts.dimension_chart(
                    top, f"by_{dim}", str(title), str(axis), self.bar_links(dim, top)
                )
            )
            tables.append(dimension_table(f"by_{dim}", title, axis, qs, top))
        worst_qs = quality.worst_sessions(f, participants)
        worst = Table(
            "worst_sessions",
            _("Worst sessions"),
            WORST_COLUMNS,
            rows=[worst_row(dict(r)) for r in quality.worst_session_page(f, participants, WORST)],
            all_rows=lambda: (worst_row(r) for r in worst_qs.iterator(chunk_size=2000)),
            empty_text=_("No session had degraded connections in this period."),
        )
        settings = get_settings()
        measured_days = int(settings.DETAIL_RECENT_DAYS)
        return {
            "totals": totals,
            "totals_text": {
                "measured": format_int(totals["measured"]),
                "connections": format_int(totals["connections"]),
                "degraded": format_int(totals["degraded"]),
                "degraded_pct": format_pct(totals["degraded_pct"]),
                "degraded_minutes": format_minutes(totals["degraded_minutes"]),
                "degraded_minutes_pct": format_pct(totals["degraded_minutes_pct"]),
            },
            "detail_policy": settings.DETAIL_POLICY,
            "detail_days": measured_days,
            "partly_measured": totals["measured"] < totals["connections"],
            # The rule as the sync applies it (sync.quality): the steps whose worse loss, sent or received,
            # is at or above the threshold add up, over the whole connection, to DEGRADED_MIN_SECONDS or more.
            "threshold_text": plain_number(settings.DEGRADED_PACKET_LOSS_PERCENT),
            "min_seconds_text": plain_number(settings.DEGRADED_MIN_SECONDS),
            "narrowed": [(str(TEXT_FILTERS[k]), getattr(f, k)) for k in self.extra_filters if getattr(f, k)],
            "filter_options": {
                "browser": [r["key"] for r in digest.browsers if r["key"]],
                "os": [r["key"] for r in digest.systems if r["key"]],
                # Roles stored in any period, read from the role index as the admin's role filter reads them.
                "role": distinct_values(Participant, "role_name"),
            },
            "charts": chart_list,
            "tables": [worst, *tables, chart_list[0].table],
            "main_tables": [worst, *tables],
        }
