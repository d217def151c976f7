"""An RQ worker whose death RQ shows within seconds: ``rqworker --worker-class
insights_app.worker.InsightsWorker`` (or ``RQ = {"WORKER_CLASS": ...}``).

While a job runs, RQ's worker renews its registration in Redis every ``job_monitoring_interval``
(30 s) for that interval plus 60 s, so a worker killed on another machine is still registered up to
90 s later, and a run it was working on cannot be resumed before. This worker renews it every
``BEAT_SECONDS`` for ``REGISTERED_FOR_SECONDS``: a killed worker's registration expires at most that
long after its last beat, and the next sync (or the reaper, every minute) resumes its run. Only the
worker's registration is shortened: RQ's own bookkeeping of its jobs (the started-job registry,
which decides when RQ itself calls a job abandoned) keeps RQ's 60 s beyond the next expected beat.

On a queue shared by several sites, it puts another site's job back on the queue as it takes it,
before any work horse runs it (``insights_app.site``), and a burst worker stops once only such jobs
are left. With ``--with-scheduler`` its scheduler judges due times by Redis's clock
(``jobs.scheduler``), the clock they are computed with, not by this host's; RQ's retries after an
interval are scheduled on that clock too (unless another job class is configured).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.job import Job
from rq.worker import Worker

from .jobs.scheduler import RedisClockJob, RedisClockScheduler
from .site import REFUSE_PAUSE_SECONDS, foreign_site, refusal_message

logger = logging.getLogger(__name__)

BEAT_SECONDS = 5
# Four beats: a worker process stalled (swapping, a slow Redis) for less than this is never judged dead.
REGISTERED_FOR_SECONDS = 20


class InsightsWorker(Worker):
    """RQ's forking worker, beating every 5 s while it works and registered for 20 s at a time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.job_monitoring_interval = min(self.job_monitoring_interval, BEAT_SECONDS)
        if self.job_class is Job:  # (django-rq passes RQ's own when none is configured; another is kept)
            self.job_class = RedisClockJob

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's heartbeat; while a job runs (RQ passes its monitoring interval + 60 s) the shorter one."""
        if timeout is not None and timeout <= self.job_monitoring_interval + 60:
            timeout = min(timeout, REGISTERED_FOR_SECONDS)
        super().heartbeat(timeout, pipeline=pipeline)

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        """RQ's dequeue, putting back the jobs of other sites. A burst worker (no ``timeout``) returns
        None once every job left on its queues is another site's; a waiting one pauses when it meets
        the same refused job again, so it does not spin while that site's workers are away."""
        refused: set[str] = set()
        while True:
            result = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
            if result is None:
                return None
            job, queue = result
            owner = foreign_site(job)
            if owner is None:
                return result
            queue.push_job_id(job.id)  # at the back: the jobs behind it run first
            if job.id not in refused:
                logger.warning(refusal_message(job.id, owner))
            elif timeout is None:
                if set(queue.get_job_ids()) <= refused:
                    return None
            else:
                time.sleep(REFUSE_PAUSE_SECONDS)
            refused.add(job.id)

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
    ) -> None:
        """RQ's start of the scheduler (rq 2.11-2.12), with the scheduler on Redis's clock."""
        self.scheduler = RedisClockScheduler(
            self.queues,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
        )
        self.scheduler.acquire_locks()
        if not self.scheduler.acquired_locks:
            return
        if not burst:
            self.scheduler.start()
            return
        try:
            self.scheduler.register_birth()
            self.scheduler.enqueue_scheduled_jobs()
        finally:
            self.scheduler.release_locks()
            self.scheduler.register_death()
