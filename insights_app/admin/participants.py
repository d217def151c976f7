"""Participants (one connection each): who, when, quality summary and a chart of the samples."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import models as m
from ..conf import get_settings
from ..display.durations import duration
from ..display.names import middle_ellipsis, shown_name
from ..display.numbers import format_bitrate, format_pct, plain_number
from ..display.roles import role_label
from ..display.times import local_datetime
from . import actions, filters, privacy
from .base import ReadOnlyAdmin
from .charts import packet_loss_chart
from .links import ROOM_CHARS, admin_change_url, admin_changelist_url, clipped, link, report_url


@admin.register(m.Participant)
class ParticipantAdmin(ReadOnlyAdmin):
    """Connections; the quality columns are the sync's summary, so filters never join the details."""

    list_display = (
        "name",
        "joined",
        "session_link",
        "role",
        "connection_duration",
        "quality",
        "max_loss",
        "browser",
        "os_name",
        "external",
        "rating",
    )
    list_display_links = ("name",)
    list_select_related = ("room_session",)
    list_filter = (
        filters.ParticipantRoomFilter,
        filters.SessionFilter,
        filters.recent_filter("joined_at", _("joined")),
        filters.ParticipantConnectedFilter,
        filters.RoleFilter,
        filters.QualityFilter,
        filters.HasExternalIdFilter,
        filters.BrowserFilter,
        filters.OSFilter,
    )
    exact_search_fields = ("external_id", "user_id")
    search_fields = ("display_name",)
    search_help_text = _("Exact external id or user id, else part of the display name.")
    date_hierarchy = "joined_at"
    ordering = ("-joined_at",)
    actions = [
        actions.fetch_details_for_selected,
        actions.sync_selected_external_ids,
        privacy.forget_selected_people,
    ]
    changelist_report = ("quality", _("Quality report"))
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "display_name",
                    "related_links",
                    "participant_id",
                    "role_name",
                    "joined_at",
                    "left_at",
                    "duration_seconds",
                )
            },
        ),
        (_("Network quality"), {"fields": ("network_quality",)}),
        (_("Identity"), {"fields": ("external_id", "user_id", "device_id", "browser", "os", "device")}),
        (_("Feedback"), {"fields": ("rating", "tags", "comment")}),
        (_("Sync"), {"fields": ("first_seen_at", "synced_at", "details_synced_at")}),
        (_("As received"), {"classes": ("collapse",), "fields": ("raw_payload",)}),
    )

    def has_forget_person_permission(self, request) -> bool:
        """Used by ``@admin.action(permissions=["forget_person"])``."""
        return privacy.can_forget(request)

    def get_readonly_fields(self, request, obj=None):
        return ("related_links", "network_quality", "raw_payload", *[f.name for f in self.model._meta.fields])

    def object_report_url(self, obj: Model) -> str | None:
        return report_url("participant_quality", obj.pk)

    @admin.display(description=_("display name"), ordering="display_name")
    def name(self, obj: m.Participant) -> str:
        return clipped(shown_name(obj.display_name), "insights-clip insights-clip-name")

    @admin.display(description=_("role"), ordering="role_name")
    def role(self, obj: m.Participant) -> str:
        return role_label(obj.role_name)

    @admin.display(description=_("max loss"), ordering="max_packet_loss")
    def max_loss(self, obj: m.Participant) -> str:
        return format_pct(obj.max_packet_loss)

    @admin.display(description=_("OS"), ordering="os")
    def os_name(self, obj: m.Participant) -> str:
        return obj.os or "—"

    @admin.display(description=_("external id"), ordering="external_id")
    def external(self, obj: m.Participant) -> str:
        return clipped(obj.external_id, "insights-clip insights-clip-id") if obj.external_id else "—"

    @admin.display(description=_("joined"), ordering="joined_at")
    def joined(self, obj: m.Participant) -> str:
        return local_datetime(obj.joined_at)

    @admin.display(description=_("session"), ordering="room_session__started_at")
    def session_link(self, obj: m.Participant) -> str:
        """The session's room on one line; the tooltip adds when the session started."""
        session = obj.room_session
        return format_html(
            '<a href="{}" class="insights-clip insights-clip-room" title="{}">{}</a>',
            admin_change_url(m.RoomSession, session.pk),
            f"{session.room_name} · {local_datetime(session.started_at)}",
            middle_ellipsis(session.room_name or session.room_session_id, ROOM_CHARS),
        )

    @admin.display(description=_("network"), ordering="quality_degraded")
    def quality(self, obj: m.Participant) -> str:
        """Degraded / good / not measured, in the reports' words (a green tick would read as good news)."""
        if obj.quality_degraded is None:
            return "—"
        if obj.quality_degraded:
            return format_html('<strong class="insights-degraded">{}</strong>', _("degraded"))
        return format_html('<span class="insights-ok">{}</span>', _("good"))

    @admin.display(description=_("duration"), ordering="duration_seconds")
    def connection_duration(self, obj: m.Participant) -> str:
        return duration(obj.duration_seconds)

    @admin.display(description=_("related"))
    def related_links(self, obj: m.Participant) -> str:
        """Back to the session and room; on to the person's other connections."""
        session = obj.room_session
        parts = [
            link(
                admin_change_url(m.Room, session.room_id),
                format_html(gettext("Room {}"), format_html("<bdi>{}</bdi>", session.room_name)),
            ),
            link(admin_change_url(m.RoomSession, session.pk), _("Session")),
            link(admin_changelist_url(m.Participant, session=session.pk), _("Everyone in this session")),
        ]
        if obj.external_id:
            parts.append(
                link(
                    admin_changelist_url(m.Participant, external_id__exact=obj.external_id),
                    _("All connections with this external id"),
                )
            )
            person = report_url("person", obj.external_id)
            if person:
                parts.append(link(person, _("Person report")))
        return format_html(" · ".join(["{}"] * len(parts)), *parts)

    @admin.display(description=_("network quality"))
    def network_quality(self, obj: m.Participant) -> str:
        """Summary figures, a packet-loss chart and one row per detail item."""
        details = list(obj.details.order_by("position"))
        # The reports' formats: compact local times, bitrates with their unit.
        rows = [
            {
                "detail": d,
                "start": local_datetime(d.time_stamp),
                "bitrate": f"{format_bitrate(d.avg_bitrate_send)} / {format_bitrate(d.avg_bitrate_recv)}",
            }
            for d in details
        ]
        threshold = get_settings().DEGRADED_PACKET_LOSS_PERCENT
        return render_to_string(
            "insights_app/admin/network_quality.html",
            {
                "participant": obj,
                "rows": rows,
                "chart": packet_loss_chart(details, threshold),
                "threshold": plain_number(threshold),
            },
        )
