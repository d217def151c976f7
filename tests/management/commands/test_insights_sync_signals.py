"""Stopping ``insights_sync`` is normal: SIGINT/SIGTERM close the run as cancelled within 2 s (even
while it waits for the budget), print one line, exit 130/143 without a traceback, and the next sync
starts at once and resumes. ``--cancel [RUN]`` does what the dashboard's cancel button does."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from insights_app.models import SyncRun
from insights_app.simulator.limiters import LIMITERS
from tests.helpers import ROOT, TEST_API_KEY, wait_for, worker_env
from tests.helpers.org_compare import assert_db_equals_org

pytestmark = pytest.mark.django_db(transaction=True)


def start_sync(redis_url: str, conf: dict, *flags: str) -> subprocess.Popen:
    """``manage.py insights_sync`` as its own process, on the test database and Redis."""
    env = worker_env(redis_url, {"INSIGHTS_TEST_SETTINGS_JSON": json.dumps(conf)})
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "insights_sync", *flags],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def slow_api(simulator_factory):
    """An organisation big enough that a full sync with details takes minutes, with slow answers."""
    server = simulator_factory(seed=5, rooms=12, sessions_per_room=10, participants_per_session=4)
    server.faults.latency_ms = 40
    return server


def settings_for(server, **extra) -> dict:
    return {
        "API_KEY": TEST_API_KEY,
        "BASE_URL": server.base_url,
        "DETAIL_POLICY": "all",
        "PLAN_POINTS_PER_MINUTE": 1_000_000,
        "RATE_BUDGET_POINTS_PER_MINUTE": 1_000_000,
        **extra,
    }


def stop_and_check(process: subprocess.Popen, signum: int, server) -> tuple[SyncRun, str, float, int]:
    """Send ``signum`` once the run has made calls; return the run, the output, the seconds the process
    took to exit and the API calls answered after the signal."""
    run = wait_for(lambda: SyncRun.objects.filter(status="running", api_requests__gt=0).first(), timeout=60)
    calls_at_signal = len(server.request_log)
    process.send_signal(signum)
    sent = time.monotonic()
    out, err = process.communicate(timeout=30)
    took = time.monotonic() - sent
    calls_after_signal = len(server.request_log) - calls_at_signal
    assert process.returncode == 128 + signum, (out, err)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and f"#{run.pk} cancelled by {signal.Signals(signum).name}" in lines[0], err
    run.refresh_from_db()
    assert run.status == "cancelled" and run.finished_at is not None
    return run, out, took, calls_after_signal


def next_sync_succeeds(redis_url: str, conf: dict) -> SyncRun:
    """The next sync is not refused, and finishes."""
    process = start_sync(redis_url, {**conf, "DETAIL_POLICY": "none"}, "--full")
    out, err = process.communicate(timeout=240)
    assert process.returncode == 0, (out, err)
    assert "already running" not in out + err
    return SyncRun.objects.order_by("-pk").first()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_cancels_the_run_and_the_next_sync_resumes(slow_api, redis_url, signum):
    conf = settings_for(slow_api)
    process = start_sync(redis_url, conf, "--full")
    stopped, _out, _took, calls_after_signal = stop_and_check(process, signum, slow_api)
    # It stopped at once, not after its walk: at most the calls already in flight were answered (the
    # fetch pool's threads), where the walk would make hundreds more. A count, not a time: under load
    # the process may take seconds to exit without having done any more work.
    assert calls_after_signal <= 16
    calls_before = len(slow_api.request_log)
    latest = next_sync_succeeds(redis_url, conf)
    assert latest.pk != stopped.pk and latest.status == "succeeded"
    # It resumed: it did not walk the rooms the stopped run had finished again (fewer calls than a whole walk).
    assert len(slow_api.request_log) > calls_before


def test_sigterm_during_a_budget_wait_stops_without_waiting_it_out(slow_api, redis_url):
    """With a budget of 6 points a minute the sync spends nearly all its time waiting for it."""
    conf = settings_for(slow_api, RATE_BUDGET_POINTS_PER_MINUTE=6)
    process = start_sync(redis_url, conf, "--full")
    wait_for(lambda: SyncRun.objects.filter(status="running", api_requests__gt=0).first(), timeout=60)
    time.sleep(1.5)  # now inside a ten-second wait for the next point
    stopped, _out, took, calls_after_signal = stop_and_check(process, signal.SIGTERM, slow_api)
    # It did not wait the budget's wait out (about 8.5 s were left of it), and sent nothing more (a call in flight may still be answered).
    assert calls_after_signal <= 1 and took < 8.0
    latest = next_sync_succeeds(redis_url, settings_for(slow_api))
    assert latest.status == "succeeded" and latest.pk != stopped.pk


def test_cancel_from_the_shell(settings, slow_api, redis_url):
    """``--cancel RUN`` and ``--cancel`` stop a running sync like the dashboard's button; bad numbers are named."""
    conf = settings_for(slow_api)
    settings.WHEREBY_INSIGHTS = conf
    process = start_sync(redis_url, conf, "--full")
    run = wait_for(lambda: SyncRun.objects.filter(status="running", api_requests__gt=0).first(), timeout=60)
    out = StringIO()
    call_command("insights_sync", "--cancel", str(run.pk), stdout=out)
    assert f"Sync run #{run.pk}: cancel requested" in out.getvalue()
    process.communicate(timeout=30)
    run.refresh_from_db()
    assert run.status == "cancelled"
    with pytest.raises(CommandError, match="already cancelled"):
        call_command("insights_sync", "--cancel", str(run.pk))
    with pytest.raises(CommandError, match="no sync run #999"):
        call_command("insights_sync", "--cancel", "999")
    out = StringIO()
    call_command("insights_sync", "--cancel", stdout=out)
    assert "No sync run is queued or running." in out.getvalue()


def test_a_signal_landing_inside_a_database_query_still_closes_the_run(slow_api, redis_url):
    """PostgreSQL: the stop arrives while the command waits on a row lock, mid-query; the run still closes."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip(
            "only PostgreSQL's driver returns to Python (and so to a signal) in the middle of a query"
        )
    import psycopg

    process = start_sync(redis_url, settings_for(slow_api), "--full")
    run = wait_for(lambda: SyncRun.objects.filter(status="running", api_requests__gt=0).first(), timeout=60)
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params) as locker:
        # Hold the run's row: the command's next progress write waits on the lock, inside a query.
        locker.execute("SELECT 1 FROM insights_app_syncrun WHERE id = %s FOR UPDATE", [run.pk])

        def command_waits_on_the_lock() -> bool:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
                return cursor.fetchone()[0] > 0

        wait_for(command_waits_on_the_lock, timeout=60)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        locker.rollback()
    out, err = process.communicate(timeout=30)
    assert process.returncode == 128 + signal.SIGTERM, (out, err)
    assert "Traceback" not in err, err
    run.refresh_from_db()
    assert run.status == "cancelled" and run.finished_at is not None


def test_sigterm_in_the_middle_of_a_write_resumes_with_nothing_lost_or_doubled(simulator_factory, redis_url):
    """PostgreSQL: the stop lands while a batch of participants is being written (fetches running
    ahead of it); the next sync stores every connection once, and the two runs count each once."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip(
            "only PostgreSQL's driver returns to Python (and so to a signal) in the middle of a query"
        )
    import psycopg

    from insights_app.models import Participant, RoomSession

    server = simulator_factory(seed=7, rooms=30, sessions_per_room=20, participants_per_session=5)
    server.faults.latency_ms = 20
    conf = settings_for(server, DETAIL_POLICY="none")
    process = start_sync(redis_url, conf, "--full")
    run = wait_for(lambda: SyncRun.objects.filter(status="running").first(), timeout=60)
    wait_for(Participant.objects.exists, timeout=60)  # a first batch is stored
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params) as locker:
        # Writes to the participants wait on this lock: the next batch is stopped mid-statement.
        locker.execute("LOCK TABLE insights_app_participant IN SHARE MODE")

        def command_waits_on_the_lock() -> bool:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
                return cursor.fetchone()[0] > 0

        wait_for(command_waits_on_the_lock, timeout=60)
        held = Participant.objects.count()
        process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        locker.rollback()
    out, err = process.communicate(timeout=30)
    assert process.returncode == 128 + signal.SIGTERM, (out, err)
    run.refresh_from_db()
    assert run.status == "cancelled"
    connections = server.organisation.stats()["connections"]
    assert 0 < held == Participant.objects.count() < connections  # the stopped batch left nothing behind

    latest = next_sync_succeeds(redis_url, conf)
    assert latest.status == "succeeded"
    # Every connection the API shows is stored, once (the table's key holds one row per connection).
    assert Participant.objects.count() == connections
    # Nothing counted twice: what the runs say they created is what is stored.
    assert run.participants_created + latest.participants_created == connections
    assert not RoomSession.objects.filter(participants_synced_signature="").exists()


@pytest.mark.parametrize("limiter", LIMITERS)
def test_a_full_sync_stopped_by_sigterm_and_resumed_equals_the_api_under_every_limiter(
    simulator_factory, redis_url, limiter
):
    """Issue 22: a limiter, costs and a plan the app is not told, the product spending a third of the
    limit; a full sync with details stopped by SIGTERM midway, then resumed, leaves the API's data."""
    from insights_app.models import Participant

    server = simulator_factory(
        seed=31,
        rooms=4,
        sessions_per_room=4,
        participants_per_session=3,
        limiter=limiter,
        points_per_minute=6000,  # the organisation: a share of 3,000 a minute paces the sync
        endpoint_costs={"rooms": 5, "room-sessions": 3, "participants": 2, "participant": 2},
        background_points_per_minute=2000,
        background_pattern="random",
    )
    server.faults.latency_ms = 20
    conf = {"API_KEY": TEST_API_KEY, "BASE_URL": server.base_url, "DETAIL_POLICY": "all"}
    process = start_sync(redis_url, conf, "--full")
    run = wait_for(lambda: SyncRun.objects.filter(status="running").first(), timeout=60)
    wait_for(Participant.objects.exists, timeout=60)  # midway: a first batch of connections stored
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 128 + signal.SIGTERM, (out, err)
    run.refresh_from_db()
    assert run.status == "cancelled"
    with pytest.raises((AssertionError, KeyError)):  # the stop left the database short of the API
        assert_db_equals_org(server.organisation, details="all")

    resumed = start_sync(redis_url, conf, "--full")
    out, err = resumed.communicate(timeout=240)
    assert resumed.returncode == 0, (out, err)
    latest = SyncRun.objects.order_by("-pk").first()
    assert latest.pk != run.pk and latest.status == "succeeded", (latest.error, out, err)
    counts = assert_db_equals_org(server.organisation, details="all")
    assert counts["participants"] == server.organisation.stats()["connections"] and counts["details"] > 0
