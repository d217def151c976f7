"""``manage.py insights_sync`` as an operator uses it: flags, summary, exit codes, clear errors."""

from __future__ import annotations

import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from insights_app.models import Room, SyncRun
from tests.helpers import ROOT, TEST_API_KEY, worker_env

pytestmark = pytest.mark.django_db


@pytest.fixture
def configured(settings, simulator):
    settings.WHEREBY_INSIGHTS = {
        "API_KEY": TEST_API_KEY,
        "BASE_URL": simulator.base_url,
        "RATE_BUDGET_POINTS_PER_MINUTE": 1_000_000,
        "PLAN_POINTS_PER_MINUTE": 1_000_000,
        "DETAIL_POLICY": "all",
        "LOOKBACK_MINUTES": 0,
    }
    return simulator


def run(*args):
    out = StringIO()
    call_command("insights_sync", *args, stdout=out)
    return out.getvalue()


def test_runs_now_and_prints_a_summary(configured):
    output = run("--full")
    run_row = SyncRun.objects.get()
    assert run_row.status == "succeeded" and run_row.trigger == "command" and run_row.kind == "full"
    assert f"Sync run #{run_row.pk} succeeded" in output
    assert f"API: {run_row.api_requests} requests" in output
    assert "rooms" in output and "participants" in output and "unchanged" in output
    assert TEST_API_KEY not in output
    assert Room.objects.count() == len(configured.organisation.room_items())


def test_details_flag_overrides_the_policy(configured):
    run("--details", "none")
    assert SyncRun.objects.get().details_policy == "none"
    assert "/insights/participant" not in configured.counters


def test_unknown_room_fails_with_a_clear_error(configured):
    with pytest.raises(CommandError, match="no room named '/nope' in the Whereby API"):
        run("--room", "/nope")
    assert SyncRun.objects.get().status == "failed"


def test_unknown_session_fails_with_a_clear_error(configured):
    with pytest.raises(CommandError, match="unknown session 'abc'"):
        run("--session", "abc")


def test_missing_api_key_is_refused_before_anything_happens(settings):
    settings.WHEREBY_INSIGHTS = {"API_KEY": None}
    with pytest.raises(CommandError, match="No Whereby API key"):
        run()
    assert not SyncRun.objects.exists()


def test_wrong_api_key_fails_the_run_without_printing_it(settings, simulator):
    settings.WHEREBY_INSIGHTS = {"API_KEY": "wrong-key-9b8a", "BASE_URL": simulator.base_url}
    with pytest.raises(CommandError, match="401") as caught:
        run()
    assert "wrong-key-9b8a" not in str(caught.value)
    failed = SyncRun.objects.get()
    assert failed.status == "failed" and "wrong-key-9b8a" not in failed.error


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--details", "sometimes"], "invalid choice: 'sometimes'"),
        (["--full", "--room", "/a"], "not allowed with argument"),
        (["--room", " "], "--room needs a room name"),
        (["--external-id", ""], "--external-id needs a value"),
    ],
)
def test_bad_flags_are_clear_errors(configured, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_enqueue_prints_the_run_and_queues_it(configured, redis_conn):
    output = run("--enqueue", "--full")
    queued = SyncRun.objects.get()
    assert f"Queued sync run #{queued.pk}" in output
    assert queued.status == "queued" and queued.kind == "full"


def test_enqueue_with_redis_down_is_a_clear_error(configured, settings):
    settings.RQ_QUEUES = {**settings.RQ_QUEUES, "whereby_insights": {"URL": "redis://127.0.0.1:1/0"}}
    with pytest.raises(CommandError, match="Cannot queue the sync: Redis does not answer"):
        run("--enqueue")


@pytest.mark.django_db(transaction=True)
def test_exit_code_is_non_zero_when_the_run_fails(settings, simulator, redis_url):
    import json

    settings.WHEREBY_INSIGHTS = {
        "API_KEY": "not-the-key",
        "BASE_URL": simulator.base_url,
        "RATE_BUDGET_POINTS_PER_MINUTE": 1_000_000,
        "PLAN_POINTS_PER_MINUTE": 1_000_000,
    }
    env = worker_env(redis_url, {"INSIGHTS_TEST_SETTINGS_JSON": json.dumps(settings.WHEREBY_INSIGHTS)})
    failed = subprocess.run(
        [sys.executable, "manage.py", "insights_sync"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert failed.returncode != 0
    assert "401" in failed.stderr
    assert "not-the-key" not in failed.stdout + failed.stderr

    settings.WHEREBY_INSIGHTS = {**settings.WHEREBY_INSIGHTS, "API_KEY": TEST_API_KEY}
    env["INSIGHTS_TEST_SETTINGS_JSON"] = json.dumps(settings.WHEREBY_INSIGHTS)
    ok = subprocess.run(
        [sys.executable, "manage.py", "insights_sync"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    assert "succeeded" in ok.stdout
