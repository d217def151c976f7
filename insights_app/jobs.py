"""RQ entry points (thin), enqueueing after commit with one run per scope, fan-out and cancelling."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any, ParamSpec, TypeVar

import django_rq
import redis
from django.db import close_old_connections, transaction
from django.utils import timezone
from rq import Retry, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Dependency, Job, JobStatus
from rq.registry import ScheduledJobRegistry
from rq.timeouts import BaseTimeoutException
from rq.worker import Worker

from .conf import get_settings
from .errors import InsightsError
from .models import SyncRun, SyncStatus
from .sync import service
from .sync.backend import RoomWork
from .sync.horizon_steps import Step, mark_step
from .whereby.budget.current import budget_points_per_minute

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

WAITING_STATES = {JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED}
ALIVE_STATES = WAITING_STATES | {JobStatus.STARTED}
# A job is enqueued when the creating transaction commits; give that a moment before calling it lost.
ENQUEUE_GRACE = timedelta(seconds=60)


class QueueUnavailable(InsightsError):
    """Redis cannot be reached, so nothing can be queued; the message says why."""


@dataclass(frozen=True)
class EnqueueResult:
    """The run a request produced, and whether it is new (False: one for that scope was active)."""

    run: SyncRun
    created: bool


def get_queue() -> Any:
    """The django-rq queue named by ``WHEREBY_INSIGHTS['QUEUE']``, enqueueing when asked.

    ``commit_mode="auto"`` whatever the host's ``RQ`` setting: ``enqueue_sync`` already waits for
    the commit itself (``on_commit``), and fan-out runs inside a job, where a ``request_finished``
    queue would hold the jobs for ever and an ``on_db_commit`` one inside a transaction returns no
    job. Either way ``enqueue_call`` must return the ``Job``.
    """
    return django_rq.get_queue(get_settings().QUEUE, commit_mode="auto")


def check_queue() -> Any:
    """The queue, after a short ping; raises QueueUnavailable with a plain reason."""
    name = get_settings().QUEUE
    try:
        queue = get_queue()
    except Exception as exc:  # misconfiguration: the queue is not in RQ_QUEUES
        raise QueueUnavailable(f"the queue {name!r} is not configured in RQ_QUEUES ({exc})") from None
    try:
        queue.connection.ping()
    except (redis.RedisError, OSError) as exc:
        raise QueueUnavailable(
            f"Redis does not answer for the queue {name!r} ({type(exc).__name__}); no sync can be queued"
        ) from None
    return queue


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
    run.assign_job(f"insights-sync-{run.pk}")

    def enqueue() -> None:
        queue.enqueue_call(
            run_sync_job,
            args=(run.pk,),
            job_id=run.job_id,
            timeout=get_settings().JOB_TIMEOUT,
            retry=job_retry(),
            result_ttl=86400,
            failure_ttl=7 * 86400,
        )

    transaction.on_commit(enqueue)
    return EnqueueResult(run, True)


def job_retry() -> Retry | None:
    """RQ retries for a job whose whole run failed on something transient (the API down for a while)."""
    intervals = list(get_settings().JOB_RETRY_INTERVALS)
    return Retry(max=len(intervals), interval=intervals) if intervals else None


def cancel_run(run: SyncRun) -> SyncRun:
    """Cancel a queued run now (and its job), or ask a running one to stop at its next page."""
    run = service.request_cancel(run)
    if run.status == SyncStatus.CANCELLED and run.job_id:
        # The run is cancelled in the database, which is what the job checks first; the RQ job is a courtesy.
        with contextlib.suppress(NoSuchJobError, redis.RedisError, OSError, ValueError):
            Job.fetch(run.job_id, connection=get_queue().connection).cancel()
    return run


def job_alive(run: SyncRun) -> bool:
    """Whether any RQ job of this run can still do something (used to spot abandoned runs)."""
    if run.status == SyncStatus.QUEUED and run.queued_at > timezone.now() - ENQUEUE_GRACE:
        return True
    job_ids = run.job_ids()
    if not job_ids:
        return False
    try:
        queue = get_queue()
        jobs = [job for job in Job.fetch_many(job_ids, connection=queue.connection) if job]
        # A job deferred on others (a fan-out's mark or closing job) is only as alive as they are.
        waiting = {_effective_status(job, queue) for job in jobs} - {JobStatus.DEFERRED}
    except (redis.RedisError, OSError):
        return True  # we cannot tell: never fail a run because Redis blinked
    if run.status == SyncStatus.RUNNING:
        # A started job whose heartbeat went stale is dead (SIGKILL); only waiting jobs keep it alive.
        return bool(waiting & WAITING_STATES)
    return bool(waiting & ALIVE_STATES)


def rq_shows_dead(run: SyncRun) -> bool:
    """Whether RQ shows every job of this running run dead, however fresh its heartbeat.

    A job is dead when it is gone, failed, stopped or finished with the run still open, or started by
    a worker that is gone: its registration expired or was removed, or it ran on this host and its
    process no longer exists. A run worked on outside RQ (no job) is never judged here.
    """
    job_ids = run.job_ids()
    if run.status != SyncStatus.RUNNING or not job_ids:
        return False
    try:
        queue = get_queue()
        jobs = {job.id: job for job in Job.fetch_many(job_ids, connection=queue.connection) if job}
        statuses = {i: _effective_status(job, queue) for i, job in jobs.items()}
        working = any(
            status == JobStatus.STARTED and _worker_alive(jobs[i], queue.connection)
            for i, status in statuses.items()
        )
    except (redis.RedisError, OSError):
        return False  # we cannot tell: never fail a run because Redis blinked
    # Deferred jobs wait on others: they run only if one of those does.
    waiting = any(status in WAITING_STATES - {JobStatus.DEFERRED} for status in statuses.values())
    return not (working or waiting)


def _worker_alive(job: Job, connection: Any) -> bool:
    """Whether the worker that started ``job`` may still be running it (True when RQ cannot say)."""
    if not job.worker_name:
        return True
    worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + job.worker_name, connection=connection)
    if worker is None:
        return False  # it exited, or its registration expired (90 s after its last beat, 20 s: worker.py)
    if worker.hostname == socket.gethostname() and worker.pid:
        try:
            os.kill(worker.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    return True


def _effective_status(job: Job, queue: Any) -> str:
    """The job's status, except that a retry overdue by more than the abandonment threshold counts as
    dead: no worker runs RQ's scheduler (``--with-scheduler``), so nothing will ever enqueue it."""
    status = job.get_status()
    if status != JobStatus.SCHEDULED:
        return status
    try:
        due = ScheduledJobRegistry(queue=queue).get_scheduled_time(job)
    except NoSuchJobError:
        return status
    overdue = timezone.now() - due.replace(tzinfo=due.tzinfo or UTC)
    if overdue > timedelta(seconds=get_settings().ABANDONED_AFTER_SECONDS):
        return JobStatus.FAILED
    return status


def _estimated_timeout(rooms: int) -> int:
    """A batch's job timeout: its worst-case calls at our share of the budget, doubled, plus slack."""
    conf = get_settings()
    seconds_per_call = 60.0 / max(1.0, budget_points_per_minute())
    return int(max(conf.JOB_TIMEOUT, rooms * 200 * seconds_per_call * 2 + 600))


def _enqueue(
    queue: Any, func: Callable, args: tuple, job_id: str, *, after: list[Job], rooms: int = 0
) -> Job:
    """A fan-out's job after ``after`` (however they end): a batch of ``rooms``, or (0) a short one."""
    return queue.enqueue_call(
        func,
        args=args,
        job_id=job_id,
        timeout=_estimated_timeout(rooms) if rooms else 600,
        retry=job_retry() if rooms else None,
        result_ttl=86400,
        depends_on=Dependency(jobs=after, allow_failure=True) if after else None,
    )


def fan_out(run: SyncRun, batches: list[list[RoomWork]]) -> bool:
    """One job per batch of rooms for all workers to share, and a job that closes the run after them."""
    queue = get_queue()
    base = run.job_id or f"insights-sync-{run.pk}"
    ids = [f"{base}-batch-{index}" for index in range(len(batches))]
    # Every job of the run, the closing one included, so a run waiting for any of them stays alive.
    run.record_batch_jobs([*ids, f"{base}-finish"])
    children = [
        _enqueue(
            queue, run_batch_job, (run.pk, [w.as_payload() for w in batch]), i, after=[], rooms=len(batch)
        )
        for i, batch in zip(ids, batches, strict=True)
    ]
    _enqueue(queue, finish_run_job, (run.pk,), f"{base}-finish", after=children)
    return True


def fan_out_steps(run: SyncRun, steps: list[tuple[Step, list[list[dict[str, Any]]]]]) -> bool:
    """A full run newest history first: each step's batch jobs, then a job marking the step done,
    the next step's jobs waiting on that mark; the closing job waits on the last mark."""
    queue = get_queue()
    base = run.job_id or f"insights-sync-{run.pk}"
    ids = [
        [f"{base}-step-{k}-batch-{i}" for i in range(len(batches))] for k, (_, batches) in enumerate(steps)
    ]
    marks = [f"{base}-step-{k}-mark" for k in range(len(steps))]
    run.record_batch_jobs([*(i for step_ids in ids for i in step_ids), *marks, f"{base}-finish"])
    after: list[Job] = []
    for (step, batches), step_ids, mark_id in zip(steps, ids, marks, strict=True):
        children = [
            _enqueue(
                queue, run_step_job, (run.pk, step.as_payload(), batch), i, after=after, rooms=len(batch)
            )
            for i, batch in zip(step_ids, batches, strict=True)
        ]
        after = [
            _enqueue(
                queue, mark_step_job, (run.pk, step.as_payload(), step_ids), mark_id, after=children or after
            )
        ]
    _enqueue(queue, finish_run_job, (run.pk,), f"{base}-finish", after=after)
    return True


class RQBackend:
    """The sync engine's job backend on RQ (see ``sync.backend.JobBackend``).

    ``fan_out_jobs=False`` is for a run worked on in this process (``insights_sync`` without
    ``--enqueue``, the organisation refresh of an external-id run): it still asks RQ whether other
    runs' jobs are alive, but never hands its own work to other jobs.
    """

    def __init__(self, *, fan_out_jobs: bool) -> None:
        self.fan_out_jobs = fan_out_jobs

    def alive(self, run: SyncRun) -> bool:
        """Whether any RQ job of the run can still do something."""
        return job_alive(run)

    def dead(self, run: SyncRun) -> bool:
        """Whether RQ shows the running run's jobs dead (reaped at once, heartbeat or not)."""
        return rq_shows_dead(run)

    def fan_out(self, run: SyncRun, batches: list[list[RoomWork]]) -> bool:
        """One job per batch plus a closing job; False (work here) for an in-process run."""
        return fan_out(run, batches) if self.fan_out_jobs else False

    def fan_out_steps(self, run: SyncRun, steps: list[tuple[Step, list[list[dict[str, Any]]]]]) -> bool:
        """Each step's jobs after the step before; False (work here) for an in-process run."""
        return fan_out_steps(run, steps) if self.fan_out_jobs else False

    def is_timeout(self, exc: BaseException) -> bool:
        """RQ's death penalty for a job over its timeout."""
        return isinstance(exc, BaseTimeoutException)

    def refresh_organisation(self, trigger: str) -> tuple[SyncRun, bool]:
        """Run an incremental sync of the organisation in this job, unless one is already active.

        Inline, with its own client so each run counts only its own API calls; the external-id run
        waits for it because it needs the sessions it brings in.
        """
        run, created = service.create_or_get_active_run("incremental", trigger=trigger, backend=RQ_INLINE)
        if created:
            run = service.execute_run(run.pk, backend=RQ_INLINE)
        return run, created


RQ_JOBS = RQBackend(fan_out_jobs=True)
RQ_INLINE = RQBackend(fan_out_jobs=False)


# RQ entry points --------------------------------------------------------------------------------


def fresh_connections(job: Callable[P, R]) -> Callable[P, R]:
    """Close stale database connections before and after a job: workers live for days."""

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


@fresh_connections
def run_sync_job(run_id: int) -> str:
    """RQ job: run (or fan out) one sync."""
    return service.execute_run(run_id, backend=RQ_JOBS, retrying=_retries_left()).status


@fresh_connections
def run_batch_job(run_id: int, payload: list[dict[str, Any]]) -> None:
    """RQ job: one batch of rooms of a fanned-out run."""
    service.execute_batch(run_id, payload, backend=RQ_JOBS, retrying=_retries_left())


@fresh_connections
def run_step_job(run_id: int, step: dict[str, Any], payload: list[dict[str, Any]]) -> None:
    """RQ job: one batch of rooms of one step of a fanned-out full run."""
    service.execute_step(run_id, step, payload, backend=RQ_JOBS, retrying=_retries_left())


@fresh_connections
def mark_step_job(run_id: int, step: dict[str, Any], job_ids: list[str]) -> bool:
    """RQ job: once a step's jobs are done, mark from when the history is complete (if they all finished)."""
    jobs = Job.fetch_many(job_ids, connection=get_queue().connection)
    finished = all(job is not None and job.get_status() == JobStatus.FINISHED for job in jobs)
    return mark_step(run_id, Step.from_payload(step), jobs_finished=finished)


@fresh_connections
def finish_run_job(run_id: int) -> str:
    """RQ job: close a fanned-out run once its batches are done."""
    return service.finish_run(run_id).status


@fresh_connections
def scheduled_sync(kind: str = "incremental") -> int | None:
    """Cron job: start a sync unless one is already queued or running (then nothing happens).

    Enqueueing sweeps abandoned runs first, so a run whose worker died does not block the schedule.
    """
    result = enqueue_sync(kind=kind, trigger="schedule")
    if not result.created:
        logger.info("scheduled %s sync skipped: run #%s is still %s", kind, result.run.pk, result.run.status)
    return result.run.pk


@fresh_connections
def reap_abandoned_runs_job() -> int:
    """Cron job: mark runs whose worker died as failed, so the next run can start."""
    return service.reap_abandoned_runs(backend=RQ_INLINE)
