"""Health of the sync machinery: Redis, workers, queue, runs' signs of life, freshness, rate budget."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from rq import Queue, Worker

from ..conf import get_settings
from ..display.budget import budget_lines
from ..display.durations import age, duration
from ..display.numbers import points_text
from ..display.times import local_datetime
from ..models import SyncRun, SyncStatus
from ..redis_clients import queue_redis
from ..sync.clock import db_now
from ..sync.context import heartbeat_interval
from ..sync.service import reap_abandoned_runs
from ..whereby.budget.current import budget_snapshot
from .backend import RQ_INLINE
from .queue import ENQUEUE_GRACE

# The dashboard must answer even when Redis does not: give up quickly.
SOCKET_TIMEOUT = 1.0
# A busy RQ worker reports every 30 s (rq's job monitoring interval); twice that and it is likely dead.
# An idle one legitimately waits up to rq's worker TTL (420 s) between reports, so it is not judged.
BUSY_WORKER_SILENT_AFTER = timedelta(seconds=60)


def _aware(value: datetime | None) -> datetime | None:
    # rq hands out naive UTC datetimes.
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value, UTC)
    return value


def run_silent_after() -> timedelta:
    """How long a running run may go without a heartbeat before the dashboard calls it silent."""
    return timedelta(seconds=2 * heartbeat_interval() + 5)


def last_sign_of_life(run: SyncRun) -> datetime | None:
    """The run's heartbeat, or its start when it has not beaten yet (only for running runs)."""
    if run.status != SyncStatus.RUNNING:
        return None
    return run.heartbeat_at or run.started_at


@dataclass
class WorkerInfo:
    """One RQ worker listening on our queue."""

    name: str
    state: str
    queues: list[str]
    last_heartbeat: datetime | None

    @property
    def silent_for(self) -> timedelta | None:
        """Time since the worker last reported."""
        return timezone.now() - self.last_heartbeat if self.last_heartbeat else None

    @property
    def looks_dead(self) -> bool:
        """Busy, but silent for longer than a busy worker ever is (killed with its job)."""
        silent = self.silent_for
        return self.state == "busy" and silent is not None and silent > BUSY_WORKER_SILENT_AFTER


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
    # Running runs whose heartbeat stopped (their worker may be dead), and what the sweep just reaped.
    silent_runs: list[SyncRun] = field(default_factory=list)
    abandoned_after: timedelta | None = None
    swept: int = 0
    # The database's clock when the runs were looked at: run times are written with it.
    checked_at: datetime | None = None

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
        """Time since the last successful sync finished (on the database's clock, which wrote it)."""
        if self.last_success is None or self.last_success.finished_at is None:
            return None
        return max(timedelta(0), db_now() - self.last_success.finished_at)

    @property
    def is_stale(self) -> bool:
        """No successful sync, or the last one is older than two schedule intervals."""
        age = self.data_age
        return age is None or (self.stale_after is not None and age > self.stale_after)

    @property
    def last_success_text(self) -> str:
        """When the last successful sync finished, as the admin writes times (page and JSON alike)."""
        return local_datetime(self.last_success.finished_at) if self.last_success else ""

    @property
    def age_text(self) -> str:
        """How long ago that was ("12 min 05 s ago")."""
        data_age = self.data_age
        return age(data_age.total_seconds()) if data_age is not None else ""

    def problems(self) -> list[str]:
        """Plain sentences saying why syncs will not run or look stuck, for the page and the sync button."""
        if not self.redis_ok:
            found = [
                _("Redis cannot be reached (%(error)s): syncs cannot be queued and nothing will run.")
                % {"error": self.redis_error}
            ]
        elif not self.workers:
            found = [
                _(
                    "No worker listens on the queue “%(queue)s”: a sync you start waits in the queue "
                    "and nothing runs until a worker starts (manage.py rqworker %(queue)s)."
                )
                % {"queue": self.queue_name}
            ]
        else:
            found = []
        for worker in self.workers:
            silent_for = worker.silent_for
            if worker.looks_dead and silent_for is not None:
                found.append(
                    _("Worker %(name)s is busy but has not reported for %(silent)s: it may have died.")
                    % {"name": worker.name, "silent": duration(silent_for.total_seconds())}
                )
        for run in self.silent_runs:
            alive_at = last_sign_of_life(run)
            if alive_at is None:
                continue
            found.append(
                _(
                    "Sync run #%(id)s has shown no sign of life for %(silent)s: its worker may have died. "
                    "It is marked failed once it has been silent for %(limit)s, and the next run resumes it."
                )
                % {
                    "id": run.pk,
                    "silent": duration(((self.checked_at or timezone.now()) - alive_at).total_seconds()),
                    "limit": duration(self.abandoned_after.total_seconds() if self.abandoned_after else None),
                }
            )
        if self.swept:
            found.append(
                ngettext(
                    "%(count)d sync run whose worker died or whose job vanished from the queue was just "
                    "marked failed; start a new sync when ready.",
                    "%(count)d sync runs whose worker died or whose job vanished from the queue were just "
                    "marked failed; start a new sync when ready.",
                    self.swept,
                )
                % {"count": self.swept}
            )
        return found

    def as_json(self) -> dict[str, Any]:
        """The figures for the dashboard's polling view."""
        age = self.data_age
        return {
            "queue": self.queue_name,
            "redis_ok": self.redis_ok,
            "redis_error": self.redis_error,
            "workers": [
                {"name": w.name, "state": w.state, "queues": w.queues, "looks_dead": w.looks_dead}
                for w in self.workers
            ],
            "queue_length": self.queue_length,
            "failed_jobs": self.failed_jobs,
            "last_success_id": self.last_success.pk if self.last_success else None,
            "last_success_label": str(self.last_success) if self.last_success else None,
            "last_success_at": self.last_success.finished_at.isoformat()
            if self.last_success and self.last_success.finished_at
            else None,
            "data_age_seconds": round(age.total_seconds()) if age is not None else None,
            "last_success_text": self.last_success_text,
            "age_text": self.age_text,
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
    """The shared rate budget, or None when it cannot be read (shown as "unknown"); its figures also
    as text the way the app writes numbers ("1,000,000", "77.5"), for the page and its live refresh."""
    try:
        snapshot = dict(budget_snapshot())
    except Exception:  # (any failure here must only make the figure "unknown")
        return None
    for name in ("points_per_minute", "plan_points_per_minute", "spent_last_minute", "used_this_minute"):
        snapshot[f"{name}_text"] = points_text(snapshot.get(name))
    snapshot.update(budget_lines(snapshot))
    return snapshot


def looks_abandoned(run: SyncRun, now: datetime) -> bool:
    """A run the abandoned-run sweep may mark failed: silent past the threshold, or queued a while."""
    if run.status == SyncStatus.QUEUED:
        return run.queued_at < now - ENQUEUE_GRACE
    alive_at = last_sign_of_life(run)
    threshold = timedelta(seconds=float(get_settings().ABANDONED_AFTER_SECONDS))
    return alive_at is not None and alive_at < now - threshold


def sweep_abandoned_runs() -> int:
    """The scheduled sweep (``reap_abandoned_runs_job`` runs the same), asking RQ which jobs still live."""
    return reap_abandoned_runs(backend=RQ_INLINE)


def check_runs(health: Health, *, sweep: bool) -> None:
    """Find silent running runs; with ``sweep``, first mark failed the ones the sweep would (dead or vanished)."""
    now = health.checked_at = db_now()  # heartbeats are written with the database's clock (sync/clock.py)
    active = list(SyncRun.objects.active().order_by("queued_at")[:50])
    if sweep and health.redis_ok and any(looks_abandoned(run, now) for run in active):
        health.swept = sweep_abandoned_runs()
        if health.swept:
            active = list(SyncRun.objects.active().order_by("queued_at")[:50])
    silent_after = run_silent_after()
    health.silent_runs = [
        run for run in active if (alive := last_sign_of_life(run)) is not None and now - alive > silent_after
    ]


def check_health(*, sweep: bool = False) -> Health:
    """Look at Redis, the workers and the runs; never raises, never waits more than a few seconds.

    With ``sweep`` (the dashboard), runs that the abandoned-run sweep would mark failed are marked now,
    so a dead worker's run or a run whose job was deleted from the queue frees its scope at once.
    """
    settings = get_settings()
    health = Health(queue_name=settings.QUEUE)
    health.stale_after = timedelta(minutes=2 * settings.SCHEDULE_INTERVAL_MINUTES)
    health.abandoned_after = timedelta(seconds=float(settings.ABANDONED_AFTER_SECONDS))
    try:
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
                last_heartbeat=_aware(worker.last_heartbeat),
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
    check_runs(health, sweep=sweep)
    health.last_success = SyncRun.objects.last_completed()
    return health
