"""Health of the sync machinery (Redis, workers, queue, freshness, rate budget) for the dashboard."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from .conf import get_settings
from .connections import queue_redis
from .models import SYNCED_MODELS, SyncRun, SyncStatus
from .ratelimit import budget_snapshot

# The dashboard must answer even when Redis does not: give up quickly.
SOCKET_TIMEOUT = 1.0


@dataclass
class WorkerInfo:
    """One RQ worker listening on our queue."""

    name: str
    state: str
    queues: list[str]
    last_heartbeat: datetime | None


@dataclass
class Health:
    """What the dashboard shows about the machinery, and whether a sync can run now."""

    queue_name: str
    redis_ok: bool = False
    redis_error: str = ""
    workers: list[WorkerInfo] = field(default_factory=list)
    queue_length: int | None = None
    failed_jobs: int | None = None
    last_success: SyncRun | None = None
    stale_after: timedelta | None = None
    rate_budget: dict[str, Any] | None = None

    @property
    def can_enqueue(self) -> bool:
        """A sync can be queued (Redis answers)."""
        return self.redis_ok

    @property
    def will_run(self) -> bool:
        """A queued sync will be picked up (Redis answers and a worker listens)."""
        return self.redis_ok and bool(self.workers)

    @property
    def data_age(self) -> timedelta | None:
        """Time since the last successful sync finished."""
        if self.last_success is None or self.last_success.finished_at is None:
            return None
        return timezone.now() - self.last_success.finished_at

    @property
    def is_stale(self) -> bool:
        """No successful sync, or the last one is older than two schedule intervals."""
        age = self.data_age
        return age is None or (self.stale_after is not None and age > self.stale_after)

    def problems(self) -> list[str]:
        """Plain sentences saying why syncs will not run, for the page and the sync button."""
        if not self.redis_ok:
            return [
                _("Redis cannot be reached (%(error)s): syncs cannot be queued and nothing will run.")
                % {"error": self.redis_error}
            ]
        if not self.workers:
            return [
                _(
                    "No worker listens on the queue “%(queue)s”: a sync you start waits in the queue "
                    "and nothing runs until a worker starts (manage.py rqworker %(queue)s)."
                )
                % {"queue": self.queue_name}
            ]
        return []

    def as_json(self) -> dict[str, Any]:
        """The figures for the dashboard's polling view."""
        age = self.data_age
        return {
            "queue": self.queue_name,
            "redis_ok": self.redis_ok,
            "redis_error": self.redis_error,
            "workers": [{"name": w.name, "state": w.state, "queues": w.queues} for w in self.workers],
            "queue_length": self.queue_length,
            "failed_jobs": self.failed_jobs,
            "last_success_id": self.last_success.pk if self.last_success else None,
            "last_success_label": str(self.last_success) if self.last_success else None,
            "last_success_at": self.last_success.finished_at.isoformat()
            if self.last_success and self.last_success.finished_at
            else None,
            "data_age_seconds": round(age.total_seconds()) if age is not None else None,
            "stale": self.is_stale,
            "rate_budget": self.rate_budget,
            "problems": self.problems(),
            "will_run": self.will_run,
            "can_enqueue": self.can_enqueue,
        }


def redis_connection(queue_name: str) -> Any:
    """The connection of our queue's server, with short socket timeouts (reused between polls)."""
    return queue_redis(queue_name, SOCKET_TIMEOUT)


def rate_budget() -> dict[str, Any] | None:
    """The shared rate budget, or None when it cannot be read (shown as "unknown")."""
    try:
        return dict(budget_snapshot())
    except Exception:  # (any failure here must only make the figure "unknown")
        return None


# Skip reasons of single items start with the model (RunContext.skip); anything else (a room, a
# session, a batch that failed) means part of the data was not refreshed.
ITEM_SKIP_PREFIXES = tuple(f"{model}: " for model in SYNCED_MODELS)


def last_completed_run() -> SyncRun | None:
    """The newest run that refreshed what it covered: succeeded, or partial with only single items
    skipped (a partial run whose rooms failed, e.g. in an outage, does not make the data fresh)."""
    recent = SyncRun.objects.filter(
        status__in=[SyncStatus.SUCCEEDED, SyncStatus.PARTIAL], finished_at__isnull=False
    ).order_by("-finished_at")[:50]
    for run in recent:
        reasons = run.skip_reasons or {}
        if run.status == SyncStatus.SUCCEEDED or all(r.startswith(ITEM_SKIP_PREFIXES) for r in reasons):
            return run
    return None


def check_health() -> Health:
    """Look at Redis, the workers and the runs; never raises, never waits more than a few seconds."""
    settings = get_settings()
    health = Health(queue_name=settings.QUEUE)
    health.stale_after = timedelta(minutes=2 * settings.SCHEDULE_INTERVAL_MINUTES)
    health.last_success = last_completed_run()
    try:
        from rq import Queue, Worker

        conn = redis_connection(settings.QUEUE)
        conn.ping()
        queue = Queue(settings.QUEUE, connection=conn)
        health.queue_length = queue.count
        health.failed_jobs = queue.failed_job_registry.get_job_count(cleanup=False)
        health.workers = [
            WorkerInfo(
                name=worker.name,
                state=str(worker.get_state()),
                queues=worker.queue_names(),
                last_heartbeat=worker.last_heartbeat,
            )
            for worker in Worker.all(connection=conn, queue=queue)
        ]
        health.redis_ok = True
    except KeyError:
        health.redis_error = _("the queue “%(queue)s” is not configured in RQ_QUEUES") % {
            "queue": settings.QUEUE
        }
    except Exception as exc:  # (a broken Redis must show on the page, not as a 500)
        health.redis_error = f"{exc.__class__.__name__}: {exc}"[:200]
    # The budget lives in Redis too; without Redis its figure is "unknown" rather than a wait.
    health.rate_budget = rate_budget() if health.redis_ok else None
    return health
