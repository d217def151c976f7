"""A worker stopped by the platform (SIGTERM, then SIGKILL after a grace period) loses nothing: the
next sync sees from RQ that the run's job is dead and resumes at once, heartbeat or not."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from rq.job import Job
from rq.worker import Worker

from insights_app.jobs import scheduled_sync
from insights_app.jobs.enqueue import enqueue_sync
from insights_app.jobs.liveness import rq_shows_dead
from insights_app.models import Participant, SyncRun
from tests.helpers import configure, wait_for
from tests.helpers.org_compare import assert_db_equals_org

pytestmark = pytest.mark.django_db(transaction=True)
PAST = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


def stop_like_a_platform(worker) -> None:
    """SIGTERM to the worker (RQ's warm shutdown: the job goes on), a grace period, then SIGKILL to all."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.process.pid, signal.SIGTERM)
    time.sleep(1.0)  # the grace period: the work horse is still syncing
    worker.kill()


@pytest.mark.parametrize("next_sync", ["command", "schedule"])
def test_a_worker_stopped_by_the_platform_is_resumed_by_the_very_next_sync(
    settings, simulator_factory, rq_worker_factory, next_sync
):
    # History that ended before any date the suite runs on: what is done when is the same on every day.
    server = simulator_factory(seed=31, rooms=6, sessions_per_room=4, participants_per_session=3, now=PAST)
    # The job must still be working when the platform stops its worker: one call at a time, and the
    # calls past the first 90 of its 103 (details of most connections stored, some to go) wait until
    # the test lets them through. A race against the clock would depend on the machine and faketime.
    server.faults.hold_after = 90
    configure(settings, server, ABANDONED_AFTER_SECONDS=300, FETCH_CONCURRENCY=1)
    worker = rq_worker_factory()
    first = enqueue_sync(kind="full", trigger="admin").run
    wait_for(lambda: server.faults.held, timeout=90)

    stop_like_a_platform(worker)
    server.faults.release()  # the held call's worker is gone; the next sync's calls go through

    stopped = SyncRun.objects.get(pk=first.pk)
    assert stopped.status == "running"  # its heartbeat is fresh: only RQ can tell it is dead
    done = set(
        Participant.objects.filter(details_synced_at__isnull=False).values_list(
            "room_session__room_session_id", "participant_id"
        )
    )
    calls_before = len(server.request_log)
    if next_sync == "command":
        call_command("insights_sync", "--full")
        latest = SyncRun.objects.order_by("-pk").first()
    else:
        latest = SyncRun.objects.get(pk=scheduled_sync(kind="full"))
        assert latest.pk != first.pk
        rq_worker_factory()
        latest = wait_for(
            lambda: SyncRun.objects.filter(pk=latest.pk).exclude(status__in=("queued", "running")).first(),
            timeout=120,
        )

    stopped.refresh_from_db()
    assert stopped.status == "failed" and "its job died" in stopped.error
    assert latest.pk != first.pk and latest.status == "succeeded", (latest.error, latest.skip_reasons)
    assert_db_equals_org(server.organisation)
    # It resumed: the details the stopped run had stored were not fetched again.
    refetched = {
        (record.query.get("roomSessionId"), record.query.get("participantId"))
        for record in server.request_log[calls_before:]
        if record.path.endswith("/insights/participant")
    }
    assert done and refetched and not (done & refetched)


def test_a_worker_killed_on_another_host_is_shown_dead_within_seconds_with_the_apps_worker_class(
    settings, simulator_factory, rq_worker_factory, redis_conn
):
    server = simulator_factory(seed=32, rooms=6, sessions_per_room=4, participants_per_session=3)
    server.faults.latency_ms = 150
    configure(settings, server, ABANDONED_AFTER_SECONDS=300, FETCH_CONCURRENCY=1)
    worker = rq_worker_factory({"INSIGHTS_TEST_WORKER_CLASS": "insights_app.worker.InsightsWorker"})
    first = enqueue_sync(kind="full", trigger="admin").run
    wait_for(lambda: Participant.objects.exists(), timeout=90)
    job = Job.fetch(first.job_id, connection=redis_conn)
    key = Worker.redis_worker_namespace_prefix + job.worker_name
    # As if it ran on another machine: this process cannot look for its pid, only at its registration.
    redis_conn.hset(key, "hostname", "another-host.invalid")
    wait_for(lambda: redis_conn.hget(key, "last_heartbeat") and 0 < redis_conn.ttl(key) <= 20, timeout=30)
    assert not rq_shows_dead(SyncRun.objects.get(pk=first.pk))

    stop_like_a_platform(worker)

    # Its registration expires at most 20 s after its last beat (RQ's own worker: 90 s).
    wait_for(lambda: rq_shows_dead(SyncRun.objects.get(pk=first.pk)), timeout=45, interval=0.5)
    call_command("insights_sync", "--full")
    stopped, latest = SyncRun.objects.get(pk=first.pk), SyncRun.objects.order_by("-pk").first()
    assert stopped.status == "failed" and "its job died" in stopped.error
    assert latest.pk != first.pk and latest.status == "succeeded", (latest.error, latest.skip_reasons)
    assert_db_equals_org(server.organisation)
