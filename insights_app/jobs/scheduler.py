"""RQ's scheduler on Redis's clock: a delayed job is due when Redis's clock says so, not a host's."""

from __future__ import annotations

from collections.abc import Iterable

from rq.registry import ScheduledJobRegistry
from rq.scheduler import RQScheduler


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
