"""Room sessions: when, how long, how many, links to the room and the participants."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .. import models as m
from ..display.durations import duration
from ..display.numbers import count, minutes
from ..display.times import local_datetime
from . import actions, filters
from .base import ReadOnlyAdmin, totals_fieldset
from .links import ROOM_CHARS, admin_change_url, admin_changelist_url, clipped, link, report_url


@admin.register(m.RoomSession)
class RoomSessionAdmin(ReadOnlyAdmin):
    """Sessions; the room name is denormalised on the row, so the list needs no join."""

    list_display = (
        "started",
        "room_link",
        "session_id",
        "session_duration",
        "participants_link",
        "participant_minutes",
        "ongoing",
        "rating",
    )
    list_display_links = ("started",)
    list_select_related = False
    list_filter = (
        filters.RoomFilter,
        filters.recent_filter("started_at", _("started")),
        filters.SessionOngoingFilter,
        filters.RatedFilter,
    )
    exact_search_fields = ("room_session_id",)
    search_fields = ("room_name",)
    search_help_text = _("Exact session id, else part of the room name.")
    date_hierarchy = "started_at"
    ordering = ("-started_at",)
    actions = [actions.sync_selected_sessions]
    changelist_report = ("overview", _("Overview report"))
    fieldsets = (
        (None, {"fields": ("room_session_id", "room_link", "related_links", "started_at", "ended_at")}),
        totals_fieldset("duration_seconds"),
        (_("Sync"), {"fields": ("first_seen_at", "synced_at")}),
        (_("As received"), {"classes": ("collapse",), "fields": ("raw_payload",)}),
    )

    def get_readonly_fields(self, request, obj=None):
        return ("room_link", "related_links", "raw_payload", *[f.name for f in self.model._meta.fields])

    def object_report_url(self, obj: Model) -> str | None:
        return report_url("session", obj.pk)

    @admin.display(description=_("started"), ordering="started_at")
    def started(self, obj: m.RoomSession) -> str:
        return local_datetime(obj.started_at)

    @admin.display(description=_("room"), ordering="room_name")
    def room_link(self, obj: m.RoomSession) -> str:
        return link(
            admin_change_url(m.Room, obj.room_id),
            clipped(obj.room_name or obj.room_id, "insights-clip insights-clip-room", middle=ROOM_CHARS),
        )

    @admin.display(description=_("session id"), ordering="room_session_id")
    def session_id(self, obj: m.RoomSession) -> str:
        return clipped(obj.room_session_id, "insights-clip insights-clip-id")

    @admin.display(description=_("participants"), ordering="total_unique_participants")
    def participants_link(self, obj: m.RoomSession) -> str:
        return link(admin_changelist_url(m.Participant, session=obj.pk), count(obj.total_unique_participants))

    @admin.display(description=_("participant minutes"), ordering="total_participant_minutes")
    def participant_minutes(self, obj: m.RoomSession) -> str:
        return minutes(obj.total_participant_minutes)

    @admin.display(description=_("duration"), ordering="duration_seconds")
    def session_duration(self, obj: m.RoomSession) -> str:
        return duration(obj.duration_seconds)

    @admin.display(description=_("state"), ordering="ended_at")
    def ongoing(self, obj: m.RoomSession) -> str:
        # Words, not the admin's boolean icons: a red ✖ on every ended session read as an error.
        if obj.is_ongoing:
            return format_html('<strong class="insights-ongoing">{}</strong>', _("ongoing"))
        return format_html('<span class="insights-ended">{}</span>', _("ended"))

    @admin.display(description=_("related"))
    def related_links(self, obj: m.RoomSession) -> str:
        """Links to the room and to this session's participants (no inline list)."""
        return format_html(
            "{} · {}",
            link(admin_change_url(m.Room, obj.room_id), _("Room")),
            link(admin_changelist_url(m.Participant, session=obj.pk), _("Participants of this session")),
        )
