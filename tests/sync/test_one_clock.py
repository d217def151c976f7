"""One clock for decisions between processes (issue 26): a process whose clock is 15 minutes ahead
neither marks a live run abandoned nor starts a second full sync beside it. Heartbeats are written
and judged with the database's clock, never two hosts' clocks compared."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from django.db import connection

from insights_app.jobs.enqueue import enqueue_sync
from insights_app.models import SyncRun
from tests.helpers import ROOT, configure, wait_for, worker_env

pytestmark = pytest.mark.django_db(transaction=True)
PAST = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="SQLite has no server clock: each process reads its own, so its processes share one machine",
)
def test_a_process_15_minutes_ahead_neither_abandons_a_live_run_nor_starts_a_second_full_sync(
    settings, simulator_factory, rq_worker_factory, redis_url
):
    server = simulator_factory(seed=41, rooms=4, sessions_per_room=3, participants_per_session=2, now=PAST)
    server.faults.hold_after = 10  # the run stays working until the test lets it go on
    configure(settings, server, ABANDONED_AFTER_SECONDS=300, FETCH_CONCURRENCY=1)
    rq_worker_factory()
    first = enqueue_sync(kind="full", trigger="admin").run
    wait_for(lambda: server.faults.held, timeout=90)

    env = worker_env(redis_url, {"INSIGHTS_TEST_SETTINGS_JSON": json.dumps(settings.WHEREBY_INSIGHTS)})
    other = subprocess.Popen(
        ["faketime", "-f", "+900s", sys.executable, "manage.py", "insights_sync", "--full"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _, stderr = other.communicate(timeout=90)
    except subprocess.TimeoutExpired:  # it started a full sync of its own, held by the simulator
        other.kill()
        _, stderr = other.communicate()

    live = SyncRun.objects.get(pk=first.pk)
    assert (live.status, live.error) == ("running", "")
    assert other.returncode != 0 and f"Sync run #{first.pk}" in stderr and "already running" in stderr
    assert SyncRun.objects.count() == 1  # no second full sync
    server.faults.release()
    done = wait_for(lambda: SyncRun.objects.filter(pk=first.pk, status__in=("succeeded", "failed")).first())
    assert done.status == "succeeded", done.error
