"""Rooms: lifetime totals, links to their sessions and participants, "Sync selected rooms"."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .. import models as m
from ..display.numbers import count, minutes
from ..display.times import local_datetime
from . import actions, filters
from .base import ReadOnlyAdmin, totals_fieldset
from .links import admin_changelist_url, clipped, link, report_url


@admin.register(m.Room)
class RoomAdmin(ReadOnlyAdmin):
    """Rooms as the API lists them; sessions are reached through a filtered changelist."""

    change_list_template = "insights_app/admin/room_change_list.html"
    list_display = (
        "name",
        "last_session",
        "sessions_link",
        "participant_minutes",
        "unique_participants",
        "rating",
        "missing",
    )
    list_display_links = ("name",)
    list_filter = (
        filters.recent_filter("last_session_started_at", _("last session")),
        filters.recent_filter("created_at", _("created")),
        filters.MissingRoomFilter,
    )
    search_fields = ("room_name",)
    search_help_text = _("Room name (part of it).")
    date_hierarchy = "last_session_started_at"
    ordering = ("-last_session_started_at", "room_name")
    actions = [actions.sync_selected_rooms]
    changelist_report = ("overview", _("Overview report"))
    fieldsets = (
        (None, {"fields": ("room_name", "related_links", "created_at", "end_at", "missing_since")}),
        (
            _("Sessions"),
            {"fields": ("first_session_started_at", "last_session_started_at", "total_sessions", "rating")},
        ),
        totals_fieldset(without=("rating",)),  # shown with the sessions
        (_("Sync"), {"fields": ("first_seen_at", "synced_at")}),
        (_("As received"), {"classes": ("collapse",), "fields": ("raw_payload",)}),
    )

    def object_report_url(self, obj: Model) -> str | None:
        return report_url("room", obj.pk)

    @admin.display(description=_("room name"), ordering="room_name")
    def name(self, obj: m.Room) -> str:
        return clipped(obj.room_name, "insights-clip insights-clip-room-name")

    @admin.display(description=_("last session"), ordering="last_session_started_at")
    def last_session(self, obj: m.Room) -> str:
        return local_datetime(obj.last_session_started_at)

    @admin.display(description=_("sessions"), ordering="total_sessions")
    def sessions_link(self, obj: m.Room) -> str:
        return link(admin_changelist_url(m.RoomSession, room=obj.pk), count(obj.total_sessions))

    @admin.display(description=_("participant minutes"), ordering="total_participant_minutes")
    def participant_minutes(self, obj: m.Room) -> str:
        return minutes(obj.total_participant_minutes)

    @admin.display(description=_("unique participants"), ordering="total_unique_participants")
    def unique_participants(self, obj: m.Room) -> str:
        return count(obj.total_unique_participants)

    @admin.display(description=_("missing from the API since"), ordering="missing_since")
    def missing(self, obj: m.Room) -> str:
        return local_datetime(obj.missing_since)

    @admin.display(description=_("related"))
    def related_links(self, obj: m.Room) -> str:
        """Links to this room's sessions, participants and sync runs (no inline lists)."""
        return format_html(
            "{} · {}",
            link(admin_changelist_url(m.RoomSession, room=obj.pk), _("Sessions of this room")),
            link(admin_changelist_url(m.Participant, room=obj.pk), _("Participants of this room")),
        )

    def get_readonly_fields(self, request, obj=None):
        return ("related_links", "raw_payload", *[f.name for f in self.model._meta.fields])
