"""The admin: read-only data pages, sync actions and the sync dashboard (see docs/admin.md)."""

from django.contrib import admin

from ..alerts import admin as alerts  # the alert list lives with the alerts
from . import app_list, participants, privacy, rooms, sessions, sync_runs
from .base import ReadOnlyAdmin

app_list.install(admin.site)

__all__ = ["ReadOnlyAdmin", "alerts", "participants", "privacy", "rooms", "sessions", "sync_runs"]
