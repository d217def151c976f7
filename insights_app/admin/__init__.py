"""The admin: read-only data pages, sync actions and the sync dashboard (see docs/admin.md)."""

# Imported here because admin autodiscovery imports only this package: each module registers its admins.
from . import alerts, app_list, participants, privacy, rooms, sessions, sync_runs, webhooks
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
