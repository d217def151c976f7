"""A revoked API key, end to end: the schedule's sync tick meets a 401 from the simulator over HTTP,
the schedule's alert tick (both run by a real rqworker) raises the alert and posts to the hook."""

from __future__ import annotations

import pytest

from insights_app.alerts.jobs import evaluate_alerts_job
from insights_app.jobs import scheduled_sync
from insights_app.jobs.queue import get_queue
from insights_app.models import Alert, SyncRun
from tests.helpers import TEST_API_KEY, configure, wait_for
from tests.helpers.alerts import HookServer

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_revoked_key_alerts_within_one_schedule_tick(settings, simulator_factory, rq_worker_factory):
    # The organisation rotated its key: the simulator now refuses the one the site holds (401).
    server = simulator_factory(api_key="rotated-key-3b9d", seed=31, rooms=2, sessions_per_room=1)
    hook = HookServer()
    try:
        configure(
            settings,
            server,
            ALERTS={"EMAIL_TO": [], "WEBHOOK_URL": hook.url, "WEBHOOK_RETRY_INTERVALS": [0]},
        )
        worker = rq_worker_factory()

        run_id = scheduled_sync("incremental")  # what rqcron's sync entry calls
        run = wait_for(lambda: SyncRun.objects.filter(pk=run_id, status="failed").first(), timeout=60)
        assert "(401)" in run.error and TEST_API_KEY not in run.error
        get_queue().enqueue(evaluate_alerts_job)  # what rqcron's alert entry enqueues, once

        wait_for(lambda: hook.posts, timeout=60)
        alert = Alert.objects.get()
        assert (alert.rule, alert.subject, alert.details["run_id"]) == ("failing_syncs", "org", run_id)
        assert alert.details["auth"] is True and alert.notified_at is not None
        assert len(hook.posts) == 1 and "API key refused" in hook.posts[0]["body"]["text"]
        assert server.counters["/insights/rooms"] >= 1  # the 401 really came over HTTP
        assert TEST_API_KEY not in worker.log() and hook.url not in worker.log()
    finally:
        hook.stop()
