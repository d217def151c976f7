"""The dashboard's view of the machinery: Redis down, no worker, a real worker, queue, freshness."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rq import Queue

from insights_app.jobs.health import check_health
from insights_app.models import SyncRun
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db
CLOSED_PORT = "redis://127.0.0.1:1/0"


@pytest.fixture
def redis_down(settings):
    """RQ_QUEUES pointing at a local port nothing listens on: a real refused connection."""
    settings.RQ_QUEUES = {name: {**conf, "URL": CLOSED_PORT} for name, conf in settings.RQ_QUEUES.items()}


def test_redis_down_is_reported_not_raised(redis_down):
    health = check_health()
    assert not health.redis_ok and not health.will_run and not health.can_enqueue
    assert "ConnectionError" in health.redis_error
    assert "Redis cannot be reached" in health.problems()[0]
    assert health.rate_budget is None


def test_dashboard_with_redis_down_says_so_plainly(client, syncer, redis_down):
    client.force_login(syncer)
    response = client.get(reverse("admin:insights_app_syncrun_dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Redis cannot be reached" in html
    assert "nothing will run" in html
    assert html.count("disabled>Start") == 2  # both start buttons are disabled
    assert 'id="insights-budget">unknown' in html
    status = client.get(reverse("admin:insights_app_syncrun_dashboard_status")).json()["health"]
    assert status["redis_ok"] is False and status["will_run"] is False
    assert status["queue_length"] is None and status["failed_jobs"] is None


def test_no_worker_is_reported(client, syncer, redis_conn):
    health = check_health()
    assert health.redis_ok and health.workers == []
    assert health.can_enqueue and not health.will_run
    assert "No worker listens" in health.problems()[0]
    client.force_login(syncer)
    html = client.get(reverse("admin:insights_app_syncrun_dashboard")).content.decode()
    assert "No worker listens on the queue" in html
    assert "nothing runs until a worker starts" in html
    assert "disabled>Start" not in html  # queuing still works; the page explains it will wait


def test_queue_length_and_failed_jobs_are_counted(redis_conn):
    queue = Queue(check_health().queue_name, connection=redis_conn)
    queue.enqueue("math.floor", 1.5)
    queue.enqueue("math.floor", 2.5)
    failed = queue.enqueue("math.floor", 3.5)
    queue.remove(failed)
    queue.failed_job_registry.add(failed, exc_string="boom")
    health = check_health()
    assert health.queue_length == 2
    assert health.failed_jobs == 1


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_is_seen_listening(client, syncer, rq_worker_factory):
    worker = rq_worker_factory()
    health = wait_for(lambda: (h := check_health()).workers and h, timeout=30)
    assert health.will_run and health.problems() == []
    assert health.queue_name in health.workers[0].queues
    client.force_login(syncer)
    status = client.get(reverse("admin:insights_app_syncrun_dashboard_status")).json()["health"]
    assert status["will_run"] is True and len(status["workers"]) == 1
    worker.stop()


def test_last_success_and_staleness(settings, redis_conn):
    assert check_health().is_stale  # never synced
    run = SyncRun.objects.create(kind="incremental", status="succeeded", trigger="schedule", dedup_key="a")
    SyncRun.objects.filter(pk=run.pk).update(finished_at=timezone.now() - timedelta(minutes=5))
    health = check_health()
    assert health.last_success.pk == run.pk and not health.is_stale
    SyncRun.objects.filter(pk=run.pk).update(finished_at=timezone.now() - timedelta(hours=2))
    assert check_health().is_stale  # older than two 15-minute schedule intervals
    settings.WHEREBY_INSIGHTS = {**settings.WHEREBY_INSIGHTS, "SCHEDULE_INTERVAL_MINUTES": 120}
    assert not check_health().is_stale


def test_dashboard_shows_rate_budget(client, viewer, redis_conn):
    from insights_app.whereby.budget.current import get_budget

    for _ in range(3):
        get_budget().acquire()  # three points spent by "some worker" this minute
    client.force_login(viewer)
    html = client.get(reverse("admin:insights_app_syncrun_dashboard")).content.decode()
    assert "3 points spent by us in the last 60 s, of our share of" in html
    budget = client.get(reverse("admin:insights_app_syncrun_dashboard_status")).json()["health"][
        "rate_budget"
    ]
    assert budget["points_per_minute"] > 0 and budget["backend"] == "redis"
    assert budget["used_this_minute"] + budget["used_last_minute"] == 3


def test_dashboard_shows_the_plan_our_share_and_points_per_call(client, viewer, redis_conn, settings):
    """The plan the API reported, our share of it, what we spent and what each endpoint costs."""
    from insights_app.whereby.budget.current import get_budget

    settings.WHEREBY_INSIGHTS = {
        key: value
        for key, value in settings.WHEREBY_INSIGHTS.items()
        if key not in ("PLAN_POINTS_PER_MINUTE", "RATE_BUDGET_POINTS_PER_MINUTE")
    }
    budget = get_budget()
    for remaining in ("997", "994"):  # two calls as the client makes them: reserve, send, answer
        budget.acquire(budget.points_for("/insights/room-sessions"))  # not learned yet: the most, 10
        budget.sending("/insights/room-sessions")
        budget.answered(
            "/insights/room-sessions",
            200,
            {"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": remaining, "X-RateLimit-Reset": "soon"},
        )
    budget.acquire(3)
    client.force_login(viewer)
    html = client.get(reverse("admin:insights_app_syncrun_dashboard")).content.decode()
    assert "1,000 per minute (reported by the API)" in html
    assert "our share 500 (50 %)" in html
    # Two answers cannot tell the limiter: the first call counts the 10 points a call may cost, the
    # second what the answers proved it cannot exceed (Limit - Remaining: 3, then 6), plus the 3
    # acquired; the page says what it assumes.
    assert "19 points spent by us in the last 60 s, of our share of 500 a minute (4 %)" in html
    assert "not known yet: pacing as if every call cost 10 points" in html
    assert "room-sessions 6 (assumed until learned)" in html


def test_dashboard_writes_budget_figures_as_the_app_writes_numbers(client, viewer, redis_conn, settings):
    """Thousands separators and no ".0" on the page and in its live refresh; a half point stays."""
    settings.WHEREBY_INSIGHTS = {
        **settings.WHEREBY_INSIGHTS,
        "PLAN_POINTS_PER_MINUTE": 2_000_000,
        "RATE_BUDGET_POINTS_PER_MINUTE": 1_000_000,
    }
    client.force_login(viewer)
    html = client.get(reverse("admin:insights_app_syncrun_dashboard")).content.decode()
    assert "0 points spent by us in the last 60 s, of our share of 1,000,000 a minute (0 %)" in html
    assert "2,000,000 per minute (set)" in html and "our share 1,000,000 (set)" in html
    assert "1000000.0" not in html and "2000000.0" not in html
    budget = client.get(reverse("admin:insights_app_syncrun_dashboard_status")).json()["health"][
        "rate_budget"
    ]
    assert (budget["points_per_minute_text"], budget["used_this_minute_text"]) == ("1,000,000", "0")
    settings.WHEREBY_INSIGHTS = {
        **settings.WHEREBY_INSIGHTS,
        "PLAN_POINTS_PER_MINUTE": 155,
        "RATE_BUDGET_POINTS_PER_MINUTE": "auto",
    }
    html = client.get(reverse("admin:insights_app_syncrun_dashboard")).content.decode()
    assert "our share 77.5 (50 %)" in html


@pytest.mark.integration  # check_health() asks Redis for the queue and the workers
def test_a_partial_run_counts_as_the_last_completed_sync_only_if_just_items_were_skipped(viewer):
    skipped_items = SyncRun.objects.create(
        dedup_key="org",
        trigger="schedule",
        status="partial",
        finished_at=timezone.now() - timedelta(minutes=5),
        skip_reasons={"participants: missing participantId": 2},
    )
    assert check_health().last_success.pk == skipped_items.pk
    SyncRun.objects.create(
        dedup_key="org-2",
        trigger="schedule",
        status="partial",
        finished_at=timezone.now(),
        skip_reasons={"room /a: /insights/room-sessions answered 503": 1},
    )
    assert check_health().last_success.pk == skipped_items.pk
