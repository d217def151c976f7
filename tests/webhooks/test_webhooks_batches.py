"""A burst of events is applied by a few drain jobs, not one job per event (issue 26, defect 16)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests

from insights_app.models import LiveConnection, WebhookEvent
from tests.helpers import wait_for
from tests.helpers.webhooks import SECRET, WEBHOOK_PATH, client_event, post

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Event-processing jobs, whatever their naming: one per event before (webhook-event-<pk>), drains now.
EVENT_JOBS = re.compile(r"^insights-.*webhook-event")


@pytest.fixture
def webhook_url(live_server, settings, redis_conn) -> str:
    settings.WHEREBY_INSIGHTS = {
        **settings.WHEREBY_INSIGHTS,
        "WEBHOOK_SECRET": SECRET,
        "DETAIL_POLICY": "none",
        "WEBHOOK_SYNC_DELAY_MINUTES": 600,  # nothing delayed fires during these tests
    }
    return live_server.url + WEBHOOK_PATH


def event_jobs_run() -> list[str]:
    """Ids of the event-processing jobs RQ ran (finished or failed), whatever their naming."""
    from rq.registry import FailedJobRegistry, FinishedJobRegistry

    from insights_app.jobs.queue import get_queue

    queue = get_queue()
    ids = [*FinishedJobRegistry(queue=queue).get_job_ids(), *FailedJobRegistry(queue=queue).get_job_ids()]
    return [i for i in ids if EVENT_JOBS.search(i)]


def event_jobs_settled() -> bool:
    """No event job queued or running (a drain lingers a moment after the last event)."""
    from rq.registry import StartedJobRegistry

    from insights_app.jobs.queue import get_queue

    queue = get_queue()
    waiting = [*queue.job_ids, *StartedJobRegistry(queue=queue).get_job_ids()]
    return not [i for i in waiting if EVENT_JOBS.search(i)]


def burst(count: int, start: datetime, prefix: str) -> list[dict]:
    """Joins then leaves of ``count`` connections, a second apart, in one room."""
    events = []
    for i in range(count):
        at = start + timedelta(seconds=i)
        events.append(
            client_event("room.client.joined", at=at, participant=f"{prefix}-{i}", numClients=i + 1)
        )
    return events


def all_processed() -> bool:
    return not WebhookEvent.objects.filter(processed_at__isnull=True).exists()


def test_a_burst_stored_before_any_worker_runs_is_applied_by_one_job(webhook_url, rq_worker_factory):
    events = burst(80, datetime.now(UTC) - timedelta(minutes=5), "q")
    for payload in reversed(events):  # newest first: the drain applies them in createdAt order anyway
        assert post(webhook_url, payload).status_code == 202
    worker = rq_worker_factory()
    assert wait_for(all_processed, 90) and wait_for(event_jobs_settled, 30), worker.log()[-2000:]
    assert len(event_jobs_run()) == 1
    assert set(WebhookEvent.objects.values_list("outcome", flat=True)) == {"processed"}
    assert LiveConnection.objects.filter(left_at__isnull=True).count() == 80


def test_a_burst_delivered_concurrently_to_a_running_worker_costs_a_few_jobs(webhook_url, rq_worker_factory):
    worker = rq_worker_factory()
    events = burst(150, datetime.now(UTC) - timedelta(minutes=5), "c")

    def deliver(payload: dict) -> int:
        with requests.Session() as session:
            return post(webhook_url, payload, session=session).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        assert set(pool.map(deliver, events)) == {202}
    assert wait_for(all_processed, 120) and wait_for(event_jobs_settled, 30), worker.log()[-2000:]
    assert set(WebhookEvent.objects.values_list("outcome", flat=True)) == {"processed"}
    assert LiveConnection.objects.filter(left_at__isnull=True).count() == 150
    assert len(event_jobs_run()) <= 10, (
        event_jobs_run()
    )  # a few, not 150 (gaps in a loaded machine may add one)


def test_events_stored_while_a_dead_drain_holds_the_mark_are_applied_after_the_sweep(
    webhook_url, redis_conn, rq_worker_factory
):
    import time_machine
    from django.utils import timezone

    from insights_app.webhooks.jobs import drain_mark, requeue_pending_events_job

    # A drain killed with its worker leaves its mark behind: new events then queue nothing ...
    redis_conn.set(drain_mark(), "1", ex=600)
    worker = rq_worker_factory()
    for payload in burst(3, datetime.now(UTC) - timedelta(minutes=1), "d"):
        assert post(webhook_url, payload).status_code == 202
    assert not all_processed() and event_jobs_settled()
    # ... until the cron sweep (every 5 minutes) finds them pending for over a minute.
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert requeue_pending_events_job() == 3
    assert wait_for(all_processed, 60), worker.log()[-2000:]
    assert LiveConnection.objects.filter(left_at__isnull=True).count() == 3
