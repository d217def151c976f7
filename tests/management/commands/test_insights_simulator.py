"""``manage.py insights_simulator``: flags are checked, the server answers, the real key is never printed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest
import requests
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.helpers import ROOT

SMALL = ["--rooms", "3", "--sessions-per-room", "2", "--participants-per-session", "2"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--days", "0"], "days"),
        (["--error-rate", "3"], "error_rate"),
        (["--error-status", "404"], "error_status"),
        (["--port", "70000"], "port"),
        (["--speed", "0"], "speed"),
        (["--points-per-minute", "0"], "points-per-minute"),
        (["--rooms", "-1"], "rooms"),
    ],
)
def test_bad_flags_are_command_errors(flags, message):
    """Nonsense values stop the command with a message naming the flag."""
    with pytest.raises(CommandError, match=message):
        call_command("insights_simulator", *flags)


def start(env_extra: dict[str, str], *flags: str) -> tuple[subprocess.Popen, list[str]]:
    """Run the command on a free port; return the process and its output up to "Ctrl-C to stop."."""
    env = {key: value for key, value in os.environ.items() if key != "WHEREBY_API_KEY"}
    env.update({"DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONUNBUFFERED": "1", **env_extra})
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "insights_simulator", "--port", "0", *SMALL, *flags],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    # Read up to the command's last line of its banner ("Ctrl-C to stop."): a warning printed before
    # it by the interpreter or a dependency (another Python, another Django) shifts the lines.
    while len(lines) < 50 and (not lines or "Ctrl-C to stop." not in lines[-1]):
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
    return process, lines


def stop(process: subprocess.Popen) -> str:
    """Ctrl-C the command and return the rest of its output."""
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=20)
    return rest


@pytest.mark.integration  # runs the command in a subprocess
def test_serves_with_the_key_from_the_environment_without_printing_it():
    """With WHEREBY_API_KEY set, the key works but never appears in the output."""
    secret = "real-secret-key-0123456789abcdef"
    process, lines = start({"WHEREBY_API_KEY": secret})
    try:
        output = "".join(lines)
        base_url = re.search(r"(http://127\.0\.0\.1:\d+/v1)", output).group(1)
        assert "WHEREBY_API_KEY" in output
        assert "3 rooms, 6 sessions, 12 connections" in output
        ok = requests.get(
            base_url + "/insights/rooms", headers={"Authorization": f"Bearer {secret}"}, timeout=60
        )
        assert ok.status_code == 200 and len(ok.json()["results"]) == 3
    finally:
        output += stop(process)
    assert secret not in output
    assert process.returncode == 0


@pytest.mark.integration  # runs the command in a subprocess
def test_prints_a_demo_key_it_made_up():
    """Without a configured key the command invents a demo key, prints it, and accepts it."""
    process, lines = start({})
    try:
        output = "".join(lines)
        base_url = re.search(r"(http://127\.0\.0\.1:\d+/v1)", output).group(1)
        key = re.search(r"(demo-[0-9a-f]+)", output).group(1)
        headers = {"Authorization": f"Bearer {key}"}
        assert requests.get(base_url + "/insights/rooms", headers=headers, timeout=10).status_code == 200
        assert requests.get(base_url + "/insights/rooms", timeout=10).status_code == 401
    finally:
        stop(process)


@pytest.mark.integration
def test_the_simulator_and_help_run_in_the_checkout_without_debug_or_a_secret_key():
    """docs/simulator.md says so; other commands still refuse to start without SECRET_KEY."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "PYTEST_VERSION", "INSIGHTS_DEMO"}
    }
    env["DJANGO_SETTINGS_MODULE"] = "project.settings"
    for args in (["insights_simulator", "--help"], ["help", "insights_simulator"]):
        shown = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert shown.returncode == 0, shown.stderr[-2000:]
        assert "--sessions-per-room" in shown.stdout
    refused = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert refused.returncode != 0 and "SECRET_KEY must be set" in refused.stderr
