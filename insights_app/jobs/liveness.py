"""Whether a run's RQ jobs can still do something, asked of RQ (queued, started by a live worker, dead)."""

from __future__ import annotations

import os
import socket
from datetime import UTC, timedelta
from typing import Any

import redis
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from rq.worker import Worker

from ..conf import get_settings
from ..models import SyncRun, SyncStatus
from ..sync.clock import db_now, redis_now
from .queue import ENQUEUE_GRACE, get_queue

WAITING_STATES = {JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED}
ALIVE_STATES = WAITING_STATES | {JobStatus.STARTED}


def job_alive(run: SyncRun) -> bool:
    """Whether any RQ job of this run can still do something (used to spot abandoned runs)."""
    # queued_at is written with the database's clock: so is the grace judged (sync/clock.py).
    if run.status == SyncStatus.QUEUED and run.queued_at > db_now() - ENQUEUE_GRACE:
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
    # RQ keeps the due time in Redis: Redis's clock is the one every host shares, not this one's.
    overdue = redis_now(queue.connection) - due.replace(tzinfo=due.tzinfo or UTC)
    if overdue > timedelta(seconds=get_settings().ABANDONED_AFTER_SECONDS):
        return JobStatus.FAILED
    return status
