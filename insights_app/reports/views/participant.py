"""One connection's network quality: packet loss and bitrate over time from its samples."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from ...conf import get_settings
from ...display.durations import format_duration
from ...display.names import shown_name
from ...display.numbers import format_pct, plain_number
from ...display.safetext import isolated
from ...display.times import format_datetime
from ...models import Participant, ParticipantDetail
from .. import quality_charts
from ..periods import period_query_including
from ..tables import Column, Table
from .base import ReportView, elapsed_seconds

SAMPLE_COLUMNS = [
    Column("time", _("Time"), "datetime"),
    Column("packetLossSend", _("Packet loss sent (%)"), "num"),
    Column("packetLossRecv", _("Packet loss received (%)"), "num"),
    Column("bitrateSend", _("Bitrate sent (bit/s)"), "bitrate"),
    Column("bitrateRecv", _("Bitrate received (bit/s)"), "bitrate"),
]
METRICS = ("packetLossSend", "packetLossRecv", "bitrateSend", "bitrateRecv")


def sample_rows(details: list[dict[str, Any]]) -> Any:
    """Every sample as a row (time, four metrics), for the CSV download."""
    for d in details:
        arrays = [d["samples"].get(k) or [] for k in METRICS]
        for i in range(max((len(a) for a in arrays), default=0)):
            row = {"time": d["time_stamp"] + dt.timedelta(milliseconds=d["sample_rate_ms"] * i)}
            for key, values in zip(METRICS, arrays, strict=True):
                row[key] = values[i] if i < len(values) else None
            yield row


class ParticipantQualityView(ReportView):
    """``/insights/connections/<pk>/quality/``."""

    template_name = "insights_app/reports/participant.html"
    room_filter = False
    period_filter = False  # one session or connection: the date range does not apply

    def build(self, request: HttpRequest, pk: int) -> dict[str, Any]:
        """Connection with session and room (1) and its detail items (1)."""
        participant = get_object_or_404(Participant.objects.select_related("room_session__room"), pk=pk)
        details = quality_charts.detail_rows(
            ParticipantDetail.objects.filter(participant_id=participant.pk).order_by("position").values()
        )
        threshold = float(get_settings().DEGRADED_PACKET_LOSS_PERCENT)
        session = participant.room_session
        chart_list, tables = [], []
        if details:
            loss, rate = quality_charts.samples_chart(details, threshold)
            chart_list = [loss, rate]
            samples = Table("samples", _("Samples"), SAMPLE_COLUMNS, all_rows=lambda: sample_rows(details))
            tables = [loss.table, samples]
        return {
            "title": _("Connection quality of %(name)s")
            % {"name": isolated(shown_name(participant.display_name))},
            "participant": participant,
            "display_name": shown_name(participant.display_name),
            "session": session,
            "session_url": reverse("insights_app:session", args=[session.pk]),
            "room_url": reverse("insights_app:room", args=[session.room_id]),
            "person_url": reverse("insights_app:person", args=[participant.external_id])
            + period_query_including(participant.joined_at or session.started_at, self.now)
            if participant.external_id
            else "",
            "facts": {
                "joined": format_datetime(participant.joined_at, "Y-m-d H:i:s"),
                "left": format_datetime(participant.left_at, "Y-m-d H:i:s") if participant.left_at else "",
                "connected_for": format_duration(
                    participant.duration_seconds
                    if participant.duration_seconds is not None
                    else elapsed_seconds(participant.joined_at, None, self.now)
                ),
                "avg_loss": format_pct(participant.avg_packet_loss),
                "max_loss": format_pct(participant.max_packet_loss),
                "degraded_time": format_duration(participant.degraded_seconds),
                "session_started": format_datetime(session.started_at),
            },
            "threshold_text": plain_number(threshold),
            "stem": f"connection-{participant.pk}",
            "charts": chart_list,
            "tables": tables,
            "summary_table": tables[0] if tables else None,
            "fetch_url": reverse("insights_app:fetch_connection_samples", args=[participant.pk]),
            "samples_table": tables[1] if tables else None,
        }
