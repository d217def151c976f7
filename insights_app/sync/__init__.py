"""The sync engine: plan what to fetch from what we hold, fetch it, upsert it, account for it."""

from .service import (
    RoomWork,
    SyncError,
    create_or_get_active_run,
    execute_batch,
    execute_run,
    finish_run,
    reap_abandoned_runs,
    request_cancel,
)

__all__ = [
    "RoomWork",
    "SyncError",
    "create_or_get_active_run",
    "execute_batch",
    "execute_run",
    "finish_run",
    "reap_abandoned_runs",
    "request_cancel",
]
