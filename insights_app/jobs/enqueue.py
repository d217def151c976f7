"""Queueing a sync after the transaction commits (one active run per scope), and cancelling one."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import redis
from django.db import transaction
from rq.exceptions import NoSuchJobError
from rq.job import Job

from ..conf import get_settings
from ..models import SyncRun, SyncStatus
from ..site import job_id, register_site, site_meta
from ..sync import service
from .backend import RQ_INLINE
from .queue import check_queue, entry_point, get_queue, job_retry


@dataclass(frozen=True)
class EnqueueResult:
    """The run a request produced, and whether it is new (False: one for that scope was active)."""

    run: SyncRun
    created: bool


def enqueue_sync(
    *,
    kind: str = "incremental",
    trigger: str,
    user: Any = None,
    room_names: list[str] | None = None,
    room_session_ids: list[str] | None = None,
    external_id: str | None = None,
    participant_ids: list[int] | None = None,
    details: str | None = None,
) -> EnqueueResult:
    """Queue a sync (after the current transaction commits), or return the active one for that scope."""
    queue = check_queue()
    scope = {
        "room_names": sorted(set(room_names or [])),
        "room_session_ids": sorted(set(room_session_ids or [])),
        "external_id": external_id,
        "participant_ids": sorted({int(p) for p in participant_ids or []}),
    }
    run, created = service.create_or_get_active_run(
        kind, trigger=trigger, user=user, scope=scope, details=details, backend=RQ_INLINE
    )
    if not created:
        return EnqueueResult(run, False)
    run.assign_job(job_id(f"sync-{run.pk}"))
    with contextlib.suppress(redis.RedisError, OSError):
        register_site(queue.connection, queue.name)

    def enqueue() -> None:
        queue.enqueue_call(
            entry_point("run_sync_job"),
            args=(run.pk,),
            job_id=run.job_id,
            timeout=get_settings().JOB_TIMEOUT,
            retry=job_retry(),
            result_ttl=86400,
            failure_ttl=7 * 86400,
            meta=site_meta(),
        )

    transaction.on_commit(enqueue)
    return EnqueueResult(run, True)


def cancel_run(run: SyncRun, by: str = "") -> SyncRun:
    """Cancel a queued run now (and its job), or ask a running one to stop at its next page.

    ``by`` says who asked and from where (the process running the run tells its user).
    """
    run = service.request_cancel(run, by)
    if run.status == SyncStatus.CANCELLED and run.job_id:
        # The run is cancelled in the database, which is what the job checks first; the RQ job is a courtesy.
        with contextlib.suppress(NoSuchJobError, redis.RedisError, OSError, ValueError):
            Job.fetch(run.job_id, connection=get_queue().connection).cancel()
    return run
