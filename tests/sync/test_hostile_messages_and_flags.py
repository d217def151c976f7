"""Terminal escapes from the API never reach stored errors or the terminal; nonsense flags name themselves."""

from __future__ import annotations

import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from insights_app.display.safetext import printable
from insights_app.models import SyncRun
from insights_app.simulator import FaultConfig
from tests.helpers import ROOT, configure, worker_env

# Clear the screen, set the window title (OSC), a hyperlink (OSC 8), a C1 CSI, a bell, bidi override.
HOSTILE_BODY = (
    '{"error": "boom\x1b[2J\x1b[H\x1b]0;owned title\x07 and \x1b]8;;http://evil.example\x1b\\\\click'
    '\x1b]8;;\x1b\\\\ \x9b31mred\x07 \u202eevil"}'
)


def has_control_characters(text: str) -> bool:
    return any(ch in text for ch in "\x1b\x07\x9b\x9d\u202e")


@pytest.mark.django_db
def test_an_api_error_body_with_terminal_escapes_is_stored_and_printed_without_them(
    settings, simulator_factory
):
    server = simulator_factory(
        seed=44, rooms=1, sessions_per_room=1, participants_per_session=1,
        faults=FaultConfig(error_rate=1.0, error_status=503, error_body=HOSTILE_BODY),
    )  # fmt: skip
    configure(settings, server, MAX_RETRIES=0)
    out = StringIO()

    with pytest.raises(CommandError) as caught:
        call_command("insights_sync", "--full", stdout=out)

    run = SyncRun.objects.get()
    assert run.status == "failed"
    assert "boom" in run.error and "owned title" not in run.error
    assert not has_control_characters(run.error)
    assert not has_control_characters(out.getvalue())
    assert not has_control_characters(str(caught.value))


def test_printable_removes_escape_sequences_and_keeps_ordinary_unicode():
    assert printable("a\x1b[31mred\x1b[0m b") == "ared b"
    assert printable("x\x1b]0;title\x07y") == "xy"
    assert printable("x\x1b]0;title\x1b\\y") == "xy"
    assert printable("tab\there\nnext") == "tab here next"
    assert printable("Zoë 🚀 日本 <b>") == "Zoë 🚀 日本 <b>"
    assert printable("\u202eevil") == "evil"


@pytest.mark.parametrize(
    ("flags", "flag"),
    [
        (["--now", "garbage"], "--now"),
        (["--participants-per-session", "inf"], "--participants-per-session"),
        (["--sessions-per-room", "nan"], "--sessions-per-room"),
        (["--days", "-inf"], "--days"),
        (["--participants-per-session", "1e12"], "--participants-per-session"),
    ],
)
def test_nonsense_simulator_flags_are_errors_naming_the_flag(flags, flag):
    with pytest.raises(CommandError, match=flag):
        call_command("insights_simulator", "--port", "0", *flags)


@pytest.mark.integration  # runs the command in a subprocess
def test_a_bad_simulator_flag_on_the_command_line_prints_no_traceback():
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "insights_simulator", "--now", "garbage"],
        cwd=ROOT,
        env=worker_env("redis://127.0.0.1:6379/2", {"DEBUG": "true"}),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "--now" in result.stderr and "garbage" in result.stderr


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_session_id_is_refused_before_a_run_is_created(settings, simulator, value):
    configure(settings, simulator)

    with pytest.raises(CommandError, match="--session needs"):
        call_command("insights_sync", "--session", value, stdout=StringIO())

    assert not SyncRun.objects.exists()
