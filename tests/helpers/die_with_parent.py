"""Run a command that gets SIGTERM when the test process that started it dies (Linux's PR_SET_PDEATHSIG).

    python tests/helpers/die_with_parent.py PARENT_PID COMMAND [ARG ...]

A test's ``rqworker`` outlived a pytest that was killed (SIGKILL skips fixture teardown) and kept
taking jobs from that Redis database. Popen's ``preexec_fn`` could set the flag, but it is unsafe
while the test process runs threads (its in-process simulators), so this small step sets it and then
becomes the command itself (``execv`` keeps the flag).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    """Ask for SIGTERM on the parent's death, give up if it is already gone, then exec the command."""
    parent, command = int(argv[0]), argv[1:]
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the parent died before the flag was set: nobody will stop us
        sys.exit(0)
    os.execv(command[0], command)  # noqa: S606 (the command is the test's own argv, no shell wanted)


if __name__ == "__main__":
    main(sys.argv[1:])
