"""The sync engine: plan what to fetch from what we hold, fetch it, upsert it, account for it.

It knows no job queue: callers pass a ``JobBackend`` (``jobs.RQ_JOBS``/``RQ_INLINE`` on RQ,
``InProcess()`` without a queue).
"""

from .backend import JobBackend, RoomWork
from .service import (
    InProcess,
    SyncError,
    create_or_get_active_run,
    execute_batch,
    execute_run,
    finish_run,
    reap_abandoned_runs,
    request_cancel,
)

__all__ = [
    "InProcess",
    "JobBackend",
    "RoomWork",
    "SyncError",
    "create_or_get_active_run",
    "execute_batch",
    "execute_run",
    "finish_run",
    "reap_abandoned_runs",
    "request_cancel",
]
