"""The admin: read-only data pages, sync actions and the sync dashboard (see docs/admin.md)."""

from django.contrib import admin

from . import app_list, participants, rooms, sessions, sync_runs
from .base import ReadOnlyAdmin

app_list.install(admin.site)

__all__ = ["ReadOnlyAdmin", "participants", "rooms", "sessions", "sync_runs"]
