"""RQ's scheduler on Redis's clock: a delayed job is due when Redis's clock says so, not a host's."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from rq.scheduler import RQScheduler

from ..sync.clock import redis_now


class RedisClockRegistry(ScheduledJobRegistry):
    """Scheduled jobs, due by Redis's ``TIME``: the clock their due times were computed with."""

    def get_jobs_to_schedule(self, timestamp: int | None = None, chunk_size: int = 1000) -> list[str]:
        """RQ's lookup, at Redis's now whatever the scheduling host's clock says (``timestamp``)."""
        seconds, _micros = self.connection.time()
        return super().get_jobs_to_schedule(int(seconds), chunk_size)


class RedisClockScheduler(RQScheduler):
    """RQ's scheduler, moving jobs to their queue when Redis's clock reaches their due time.

    The webhook windows (``webhooks.schedule``) are due at an event's time plus the delay, read on
    Redis's clock; a scheduler on a host whose clock is 15 minutes ahead would otherwise start them
    15 minutes early (before the API shows the data), one 15 minutes behind that much late.
    """

    def prepare_registries(self, queue_names: Iterable[str] | None = None) -> None:
        """RQ's registries, each judged by Redis's clock."""
        super().prepare_registries(queue_names)
        self._scheduled_job_registries = [
            RedisClockRegistry(registry.name, connection=self.connection, serializer=self.serializer)
            for registry in self._scheduled_job_registries
        ]


class RedisClockJob(Job):
    """RQ's job, whose retry after an interval is due by Redis's clock, as the scheduler judges it.

    RQ writes a retry's due time with the failing worker's clock; a scheduler on Redis's clock would
    then run it late by as much as that host is ahead (or early by as much as it is behind).
    """

    def retry(self, queue: Any, pipeline: Any) -> None:
        """RQ's retry (rq 2.11-2.12); a retry after an interval is scheduled from Redis's now."""
        interval = self.get_retry_interval()
        if not interval:
            super().retry(queue, pipeline)
            return
        assert self.retries_left
        self.retries_left = self.retries_left - 1
        due = redis_now(self.connection) + timedelta(seconds=interval)
        self.set_status(JobStatus.SCHEDULED)
        queue.schedule_job(self, due, pipeline=pipeline)
        self.log.info("Job %s: scheduled for retry at %s, %s remaining", self.id, due, self.retries_left)
