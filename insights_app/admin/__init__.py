"""The admin: read-only data pages, sync actions and the sync dashboard (see docs/admin.md)."""

from ..alerts import admin as alerts  # the alert list lives with the alerts

# Registered here because admin autodiscovery imports only this package.
from ..webhooks import admin as webhooks
from . import app_list, participants, privacy, rooms, sessions, sync_runs
from .base import ReadOnlyAdmin

__all__ = [
    "ReadOnlyAdmin",
    "alerts",
    "app_list",
    "participants",
    "privacy",
    "rooms",
    "sessions",
    "sync_runs",
    "webhooks",
]
