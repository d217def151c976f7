"""Read-only admin of webhook events, filterable by type and outcome (the secret is never stored)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from ..models import WebhookEvent
from .base import ReadOnlyAdmin


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    """Events as Whereby sent them and what processing made of them."""

    list_display = ("event_id", "type", "created_at", "received_at", "room_name", "outcome", "processed_at")
    list_filter = ("type", "outcome", "received_at")
    exact_search_fields = ("event_id", "room_session_id", "participant_id", "room_name")
    search_fields = ("room_name",)
    search_help_text = _("Exact event, session or participant id, else part of the room name.")
    date_hierarchy = None
    ordering = ("-received_at",)

    def get_readonly_fields(self, request: HttpRequest, obj: WebhookEvent | None = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]
