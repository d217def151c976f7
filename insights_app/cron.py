"""Periodic schedule, loaded by ``python manage.py rqcron insights_app.cron``.

Every ``SCHEDULE_INTERVAL_MINUTES`` an incremental sync (skipped while one is queued or running),
every minute a sweep for abandoned runs and the alert rules (docs/alerts.md), with webhooks every
5 minutes a sweep for events stored while Redis was down and hourly the pruning of old events, and
with ``NIGHTLY_FULL_SYNC_CRON`` (e.g. ``"0 3 * * *"``) a full sync. With
``PERSONAL_DATA_RETENTION_DAYS`` set, an hourly retention pass (docs/privacy.md).
"""

from __future__ import annotations

from typing import Any

from rq import cron

from .alerts.jobs import evaluate_alerts_job
from .alerts.schedule import alerts_schedule
from .conf import get_settings
from .jobs import reap_abandoned_runs_job, scheduled_sync
from .privacy.jobs import JOB_SECONDS, retention_job
from .site import site_meta
from .webhooks.jobs import requeue_pending_events_job
from .webhooks.prune import prune_job


def _register(func: Any, queue_name: str | None = None, **kwargs: Any) -> dict:
    """``rq.cron.register``, the job marked with this site (site.py): on a shared queue, only this
    site's workers run this site's schedule."""
    if queue_name is not None:
        kwargs["queue_name"] = queue_name
    return cron.register(func, meta=site_meta(), **kwargs)


def register_schedule() -> list[dict]:
    """Register the app's cron jobs with rq (called when rqcron loads this module)."""
    conf = get_settings()
    queue = conf.QUEUE
    registered = [
        _register(
            scheduled_sync,
            queue,
            kwargs={"kind": "incremental"},
            interval=conf.SCHEDULE_INTERVAL_MINUTES * 60,
            name="insights-incremental-sync",
            job_timeout=300,
        ),
        _register(
            reap_abandoned_runs_job, queue, interval=60, name="insights-reap-abandoned", job_timeout=120
        ),
        _register(evaluate_alerts_job, **alerts_schedule()),
    ]
    if isinstance(conf.WEBHOOK_SECRET, str) and conf.WEBHOOK_SECRET.strip():
        # Events stored while Redis was down wait as pending: queue them once it answers again.
        registered.append(
            _register(
                requeue_pending_events_job,
                queue,
                interval=300,
                name="insights-webhook-requeue",
                job_timeout=120,
            )
        )
        registered.append(
            _register(prune_job, queue, interval=3600, name="insights-webhook-prune", job_timeout=600)
        )
    if conf.NIGHTLY_FULL_SYNC_CRON:
        registered.append(
            _register(
                scheduled_sync,
                queue,
                kwargs={"kind": "full"},
                cron=conf.NIGHTLY_FULL_SYNC_CRON,
                name="insights-nightly-full-sync",
                job_timeout=300,
            )
        )
    if conf.PERSONAL_DATA_RETENTION_DAYS is not None:
        registered.append(
            _register(
                retention_job, queue, interval=3600, name="insights-retention", job_timeout=JOB_SECONDS + 600
            )
        )
    return registered


register_schedule()
