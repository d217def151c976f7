"""``manage.py insights_sync`` as an operator uses it: flags, summary, exit codes, clear errors."""

from __future__ import annotations

import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

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


def test_without_a_terminal_or_tqdm_progress_is_printed_as_plain_lines(configured):
    # call_command's StringIO is no terminal: a README install (no tqdm) in a log sees the same.
    output = run("--full")
    progress = [line for line in output.splitlines() if line.startswith("syncing: ")]
    assert progress, output
    assert "rooms" in progress[0] and "API calls" in progress[0]
    # Throttled: a sync of a few seconds says it once, not once per room.
    assert len(progress) <= 2


def test_a_failing_run_says_its_error_once(settings, simulator):
    settings.WHEREBY_INSIGHTS = {"API_KEY": "wrong-key-9b8a", "BASE_URL": simulator.base_url}
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("insights_sync", stdout=out)
    error = SyncRun.objects.get().error
    assert error and error in str(caught.value)
    assert error not in out.getvalue()  # the summary leaves it to the error line


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("typo", "room names start with '/'"),
        ("/", "'/' alone is not a room"),
        ("/two words", "no spaces"),
        ("/" + "x" * 600, "at most 512 characters"),
    ],
)
def test_a_malformed_room_name_is_refused_before_a_run_exists(configured, name, message):
    with pytest.raises(CommandError, match=message):
        run("--room", name)
    assert not SyncRun.objects.exists()


def test_a_typo_of_a_synced_room_is_refused_with_the_names_it_resembles(configured):
    run("--full")
    real = Room.objects.order_by("room_name").values_list("room_name", flat=True)[0]
    typo = real[:-1] + ("x" if real[-1] != "x" else "y")
    runs_before = SyncRun.objects.count()
    with pytest.raises(CommandError, match="did you mean") as caught:
        run("--room", typo)
    assert repr(real) in str(caught.value)
    assert SyncRun.objects.count() == runs_before
    run("--room", real)  # the right name still syncs
    assert SyncRun.objects.latest("pk").status == "succeeded"


@pytest.mark.django_db(transaction=True)
def test_a_run_cancelled_from_another_shell_says_who_cancelled_it(settings, simulator_factory, redis_url):
    import getpass
    import json
    import socket

    from insights_app.simulator import FaultConfig
    from tests.helpers import wait_for

    slow = simulator_factory(
        seed=2, rooms=6, sessions_per_room=6, participants_per_session=3, faults=FaultConfig(latency_ms=150)
    )
    settings.WHEREBY_INSIGHTS = {
        "API_KEY": TEST_API_KEY,
        "BASE_URL": slow.base_url,
        "RATE_BUDGET_POINTS_PER_MINUTE": 1_000_000,
        "PLAN_POINTS_PER_MINUTE": 1_000_000,
    }
    env = worker_env(redis_url, {"INSIGHTS_TEST_SETTINGS_JSON": json.dumps(settings.WHEREBY_INSIGHTS)})
    cli = subprocess.Popen(
        [sys.executable, "manage.py", "insights_sync", "--full"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        running = wait_for(lambda: SyncRun.objects.filter(status="running", api_requests__gt=0).first(), 60)
        call_command("insights_sync", "--cancel", str(running.pk), stdout=StringIO())  # the other shell
        _, err = cli.communicate(timeout=120)
    finally:
        if cli.poll() is None:
            cli.kill()
    run_row = SyncRun.objects.get(pk=running.pk)
    assert run_row.status == "cancelled"
    assert (
        run_row.cancel_requested_by
        == f"{getpass.getuser()} from {socket.gethostname()} (insights_sync --cancel)"
    )
    assert cli.returncode == 3, err
    assert f"cancelled by {run_row.cancel_requested_by} at " in err
    when = timezone.localtime(run_row.cancel_requested_at).strftime("%Y-%m-%d %H:%M:%S")
    assert f"at {when} {timezone.get_current_timezone_name()}," in err  # the site's zone, named
    assert "no error recorded" not in err
    assert err.count("cancelled by") == 1
