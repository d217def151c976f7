"""Webhook upkeep: an event that arrives while Redis is down is kept and processed later; old ones are pruned."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from insights_app.models import WebhookEvent, WebhookRejection
from insights_app.webhooks import presence
from tests.helpers import wait_for
from tests.helpers.webhooks import SECRET, WEBHOOK_PATH, client_event, post

pytestmark = pytest.mark.django_db(transaction=True)


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def registered_cron_jobs() -> dict:
    from django_rq.cron import DjangoCronScheduler

    scheduler = DjangoCronScheduler()
    scheduler.load_config_from_file("insights_app.cron")
    return {job.name: job for job in scheduler.get_jobs()}


def test_redis_down_at_intake_keeps_the_event_and_the_cron_sweep_processes_it(
    live_server, settings, redis_conn, rq_worker_factory
):
    from insights_app.jobs.queue import get_queue
    from insights_app.webhooks.jobs import requeue_pending_events_job

    settings.WHEREBY_INSIGHTS = {
        **settings.WHEREBY_INSIGHTS,
        "WEBHOOK_SECRET": SECRET,
        "DETAIL_POLICY": "none",
    }
    working = settings.RQ_QUEUES
    queue_name = settings.WHEREBY_INSIGHTS.get("QUEUE", "whereby_insights")
    # The site's queue points at a port nothing answers on, for this delivery only.
    settings.RQ_QUEUES = {**working, queue_name: {"URL": f"redis://127.0.0.1:{closed_port()}/0"}}
    payload = client_event("room.client.joined", at=datetime.now(UTC), participant="p-while-down")
    try:
        response = post(live_server.url + WEBHOOK_PATH, payload)
    finally:
        settings.RQ_QUEUES = working
    # Stored, so Whereby must not retry: 2xx, and the event waits as pending with no job queued.
    assert response.status_code == 202, response.text
    stored = WebhookEvent.objects.get(event_id=payload["id"])
    assert (stored.outcome, stored.processed_at) == ("pending", None)
    assert get_queue().job_ids == []
    # A retry of the same delivery once Redis is back is a duplicate, not a second row.
    assert post(live_server.url + WEBHOOK_PATH, payload).status_code == 200
    assert WebhookEvent.objects.count() == 1
    # The cron sweep (every 5 minutes) queues events pending for over a minute; a worker processes it.
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert requeue_pending_events_job() == 1
    worker = rq_worker_factory()
    done = wait_for(lambda: WebhookEvent.objects.filter(pk=stored.pk, outcome="processed").exists(), 60)
    assert done, worker.log()[-2000:]
    assert [p.participant_id for room in presence.in_rooms_now() for p in room.people] == ["p-while-down"]


def test_old_events_and_rejection_counts_are_pruned_in_batches_and_pending_ones_kept(settings):
    from insights_app.webhooks.prune import prune_webhook_events

    settings.WHEREBY_INSIGHTS = {**settings.WHEREBY_INSIGHTS, "WEBHOOK_EVENT_RETENTION_DAYS": 30}
    now = timezone.now()

    def make(name: str, age_days: float, outcome: str) -> WebhookEvent:
        return WebhookEvent(
            event_id=name,
            type="room.client.joined",
            received_at=now - timedelta(days=age_days),
            outcome=outcome,
        )

    old = [make(f"old-{i}", 31 + i, "processed") for i in range(5)] + [make("old-failed", 40, "failed")]
    kept = [make("old-pending", 45, "pending"), make("recent", 29, "processed"), make("new", 0, "ignored")]
    WebhookEvent.objects.bulk_create(old + kept)
    WebhookRejection.objects.bulk_create(
        [
            WebhookRejection(day=(now - timedelta(days=31)).date(), reason="stale", count=4),
            WebhookRejection(day=(now - timedelta(days=2)).date(), reason="stale", count=1),
        ]
    )
    with CaptureQueriesContext(connection) as queries:
        pruned = prune_webhook_events(now=now, batch_size=4)
    assert (pruned.events, pruned.rejections) == (6, 1)
    assert set(WebhookEvent.objects.values_list("event_id", flat=True)) == {"old-pending", "recent", "new"}
    assert list(WebhookRejection.objects.values_list("count", flat=True)) == [1]
    # Set-based: one DELETE per batch of events (6 rows, batches of 4), not one per row.
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].upper().startswith("DELETE")]
    assert sum(WebhookEvent._meta.db_table in sql for sql in deletes) == 2


def test_the_schedule_prunes_hourly_with_webhooks_and_the_retention_is_checked(settings, redis_conn):
    from django.core.checks import run_checks

    settings.WHEREBY_INSIGHTS = {}
    assert "insights-webhook-prune" not in registered_cron_jobs()
    settings.WHEREBY_INSIGHTS = {"WEBHOOK_SECRET": SECRET}
    job = registered_cron_jobs()["insights-webhook-prune"]
    assert (job.interval, job.queue_name) == (3600, "whereby_insights")
    for wrong in (0, 6, "30", 1.5):
        settings.WHEREBY_INSIGHTS = {"WEBHOOK_SECRET": SECRET, "WEBHOOK_EVENT_RETENTION_DAYS": wrong}
        found = [m for m in run_checks() if "WEBHOOK_EVENT_RETENTION_DAYS" in m.msg]
        assert [m.id for m in found] == ["insights_app.E007"], wrong
        assert SECRET not in found[0].msg + found[0].hint
