"""A process the tests start (a real ``rqworker``) ends when the test process dies, even by SIGKILL,
which skips every fixture's teardown: none is left taking jobs from a Redis database after it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import ROOT, wait_for

pytestmark = pytest.mark.integration

# A stand-in for pytest: starts the command through the wrapper, as WorkerProcess does, prints the
# child's pid, then waits to be killed.
PARENT = """
import subprocess, sys, os, time
child = subprocess.Popen([sys.executable, sys.argv[1], str(os.getpid()), sys.executable, "-c",
                          "import time; time.sleep(120)"])
print(child.pid, flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_child_started_through_the_wrapper_ends_when_its_parent_is_killed():
    wrapper = str(ROOT / "tests" / "helpers" / "die_with_parent.py")
    parent = subprocess.Popen([sys.executable, "-c", PARENT, wrapper], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        time.sleep(0.5)  # the wrapper has exec'd the command by now, flag set
        assert _alive(child)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        assert wait_for(lambda: not _alive(child), timeout=10)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_the_wrapper_does_not_start_the_command_once_its_parent_is_gone():
    wrapper = str(ROOT / "tests" / "helpers" / "die_with_parent.py")
    # A parent pid that is not ours: the wrapper's own parent check fails before any exec.
    done = subprocess.run(
        [sys.executable, wrapper, str(os.getpid() + 10**6), sys.executable, "-c", "print('ran')"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0
    assert "ran" not in done.stdout
