"""The RQ jobs: what a worker runs, each reachable as ``insights_app.jobs.<name>`` (see ``queue.entry_point``)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from django.db import close_old_connections
from rq import get_current_job
from rq.job import Job, JobStatus

from ..site import this_site_only
from ..sync import service
from ..sync.horizon_steps import Step, mark_step
from .backend import RQ_INLINE, RQ_JOBS
from .enqueue import enqueue_sync
from .queue import get_queue, stable_path

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


def fresh_connections(job: Callable[P, R]) -> Callable[P, R]:
    """Close stale database connections before and after a job: workers live for days. A job of
    another site on a shared queue is put back, never run against this database (``site``)."""

    @this_site_only
    @functools.wraps(job)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        close_old_connections()
        try:
            return job(*args, **kwargs)
        finally:
            close_old_connections()

    return run


def _retries_left() -> bool:
    job = get_current_job()
    return bool(job and job.retries_left)


@stable_path
@fresh_connections
def run_sync_job(run_id: int) -> str:
    """RQ job: run (or fan out) one sync."""
    return service.execute_run(run_id, backend=RQ_JOBS, retrying=_retries_left()).status


@stable_path
@fresh_connections
def run_batch_job(run_id: int, payload: list[dict[str, Any]]) -> None:
    """RQ job: one batch of rooms of a fanned-out run."""
    service.execute_batch(run_id, payload, backend=RQ_JOBS, retrying=_retries_left())


@stable_path
@fresh_connections
def run_step_job(run_id: int, step: dict[str, Any], payload: list[dict[str, Any]]) -> None:
    """RQ job: one batch of rooms of one step of a fanned-out full run."""
    service.execute_step(run_id, step, payload, backend=RQ_JOBS, retrying=_retries_left())


@stable_path
@fresh_connections
def mark_step_job(run_id: int, step: dict[str, Any], job_ids: list[str]) -> bool:
    """RQ job: once a step's jobs are done, mark from when the history is complete (if they all finished)."""
    jobs = Job.fetch_many(job_ids, connection=get_queue().connection)
    finished = all(job is not None and job.get_status() == JobStatus.FINISHED for job in jobs)
    return mark_step(run_id, Step.from_payload(step), jobs_finished=finished)


@stable_path
@fresh_connections
def finish_run_job(run_id: int) -> str:
    """RQ job: close a fanned-out run once its batches are done."""
    return service.finish_run(run_id).status


@stable_path
@fresh_connections
def scheduled_sync(kind: str = "incremental") -> int | None:
    """Cron job: start a sync unless one is already queued or running (then nothing happens).

    Enqueueing sweeps abandoned runs first, so a run whose worker died does not block the schedule.
    """
    result = enqueue_sync(kind=kind, trigger="schedule")
    if not result.created:
        logger.info("scheduled %s sync skipped: run #%s is still %s", kind, result.run.pk, result.run.status)
    return result.run.pk


@stable_path
@fresh_connections
def reap_abandoned_runs_job() -> int:
    """Cron job: mark runs whose worker died as failed, so the next run can start."""
    return service.reap_abandoned_runs(backend=RQ_INLINE)
