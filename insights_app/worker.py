"""An RQ worker whose death RQ shows within seconds: ``rqworker --worker-class
insights_app.worker.InsightsWorker`` (or ``RQ = {"WORKER_CLASS": ...}``).

While a job runs, RQ's worker renews its registration in Redis every ``job_monitoring_interval``
(30 s) for that interval plus 60 s, so a worker killed on another machine is still registered up to
90 s later, and a run it was working on cannot be resumed before. This worker renews it every
``BEAT_SECONDS`` for ``REGISTERED_FOR_SECONDS``: a killed worker's registration expires at most that
long after its last beat, and the next sync (or the reaper, every minute) resumes its run. Only the
worker's registration is shortened: RQ's own bookkeeping of its jobs (the started-job registry,
which decides when RQ itself calls a job abandoned) keeps RQ's 60 s beyond the next expected beat.
"""

from __future__ import annotations

from typing import Any

from rq.worker import Worker

BEAT_SECONDS = 5
# Four beats: a worker process stalled (swapping, a slow Redis) for less than this is never judged dead.
REGISTERED_FOR_SECONDS = 20


class InsightsWorker(Worker):
    """RQ's forking worker, beating every 5 s while it works and registered for 20 s at a time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.job_monitoring_interval = min(self.job_monitoring_interval, BEAT_SECONDS)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's heartbeat; while a job runs (RQ passes its monitoring interval + 60 s) the shorter one."""
        if timeout is not None and timeout <= self.job_monitoring_interval + 60:
            timeout = min(timeout, REGISTERED_FOR_SECONDS)
        super().heartbeat(timeout, pipeline=pipeline)
