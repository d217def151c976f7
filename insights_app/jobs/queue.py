"""Our RQ queue: finding it, checking Redis answers, the retry policy, and the stable paths of our jobs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import django_rq
import redis
from rq import Retry

from ..conf import get_settings
from ..errors import InsightsError

# A job is enqueued when the creating transaction commits; give that a moment before calling it lost.
ENQUEUE_GRACE = timedelta(seconds=60)

# RQ stores a queued job's function as a dotted path. Ours stay ``insights_app.jobs.<name>`` whichever
# module defines them (``jobs/__init__.py`` imports them), so jobs queued before an upgrade still run.
ENTRY_POINT_PACKAGE = "insights_app.jobs"
F = TypeVar("F", bound=Callable[..., Any])


def entry_point(name: str) -> str:
    """The dotted path RQ stores for our job ``name`` (one of ``jobs.entry_points``)."""
    return f"{ENTRY_POINT_PACKAGE}.{name}"


def stable_path(job: F) -> F:
    """Mark ``job`` as an entry point: RQ (and rq's cron, which takes the function) then stores its
    public path ``insights_app.jobs.<name>``, not the module that happens to define it."""
    job.__module__ = ENTRY_POINT_PACKAGE
    return job


class QueueUnavailable(InsightsError):
    """Redis cannot be reached, so nothing can be queued; the message says why."""


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


def job_retry() -> Retry | None:
    """RQ retries for a job whose whole run failed on something transient (the API down for a while)."""
    intervals = list(get_settings().JOB_RETRY_INTERVALS)
    return Retry(max=len(intervals), interval=intervals) if intervals else None
