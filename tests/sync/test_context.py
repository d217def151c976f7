"""A run's API requests and throttles count from its first call: an API that answers every call with
429 shows them on the running run, and they stay after it is cancelled."""

from __future__ import annotations

import threading
import time

import pytest

from insights_app.models import SyncRun
from insights_app.sync import InProcess, create_or_get_active_run, execute_run, request_cancel
from tests.helpers import TEST_API_KEY


@pytest.mark.django_db(transaction=True)
def test_a_throttled_run_counts_its_calls_while_it_waits_and_after_its_cancel(
    settings, simulator_factory, redis_conn
):
    server = simulator_factory(seed=1, rooms=2, sessions_per_room=1, participants_per_session=1)
    server.faults.force_throttle = 10_000  # every call answered 429
    server.faults.throttle_ms = 400
    settings.WHEREBY_INSIGHTS = {
        "API_KEY": TEST_API_KEY,
        "BASE_URL": server.base_url,
        "MAX_THROTTLE_RETRIES": 1000,
        "RATE_BUDGET_POINTS_PER_MINUTE": 6000,
    }
    run, _ = create_or_get_active_run("full", trigger="command", backend=InProcess())
    worker = threading.Thread(target=execute_run, args=(run.pk,), kwargs={"backend": InProcess()})
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            seen = SyncRun.objects.get(pk=run.pk)
            if seen.api_throttles >= 2:
                break
            time.sleep(0.2)
        assert seen.status == "running"
        assert seen.api_requests >= seen.api_throttles >= 2, (seen.api_requests, seen.api_throttles)
    finally:
        request_cancel(SyncRun.objects.get(pk=run.pk))
        worker.join(30)
    done = SyncRun.objects.get(pk=run.pk)
    assert done.status == "cancelled"
    throttled = sum(1 for record in server.request_log if record.status == 429)
    assert done.api_throttles == throttled > 0
    assert done.api_requests == len(server.request_log)
