"""Child processes of the demo: each in its own process group, all stopped together on any exit."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

PR_SET_PDEATHSIG = 1


class Stop(BaseException):
    """Raised in the main thread by SIGINT/SIGTERM/SIGHUP so ``finally`` blocks stop the children."""


_requested: list[str] = []  # the signal that asked us to stop, once one has


def raise_stop(signum: int, frame: object) -> None:
    """Signal handler: turn the signal into an exception the main loop unwinds through."""
    _requested.append(signal.Signals(signum).name)
    raise Stop(_requested[-1])


def stop_if_requested() -> None:
    """Raise Stop again if a signal came: its exception may have been swallowed where it landed.

    Python prints and drops an exception raised inside a finalizer or ``__del__`` ("Exception
    ignored in"), so a signal arriving there would otherwise leave the demo running.
    """
    if _requested:
        raise Stop(_requested[-1])


def install_signal_handlers() -> None:
    """Ctrl-C, a plain kill and a closed terminal all stop the demo the same way."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, raise_stop)


def ignore_signals() -> None:
    """While stopping, a second Ctrl-C must not leave children behind."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)


def die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the demo dies, even by SIGKILL (Linux only)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def kernel_port() -> int:
    """A port free right now, picked by the kernel."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Child:
    """One started process, its log file, and whether its exit is expected."""

    name: str
    process: subprocess.Popen
    log_path: Path | None
    may_exit: bool = False
    _log: IO[bytes] | None = field(default=None, repr=False)

    def log_tail(self, lines: int = 25) -> str:
        """The last lines the child wrote, for error messages."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class Children:
    """Starts children in new sessions (their own process groups) and stops every one of them."""

    def __init__(self, log_dir: Path, env: dict[str, str], cwd: Path) -> None:
        self.log_dir = log_dir
        self.env = env
        self.cwd = cwd
        self.items: list[Child] = []

    def start(self, name: str, args: list[str], *, log: bool = True, may_exit: bool = False) -> Child:
        """Start ``args``; output goes to ``var/demo/<name>.log`` unless ``log`` is False (terminal)."""
        log_path = self.log_dir / f"{name}.log" if log else None
        handle = log_path.open("ab") if log_path else None
        process = subprocess.Popen(  # noqa: S603  (our own argv, never user input)
            args,
            cwd=self.cwd,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT if handle else None,
            stdin=subprocess.DEVNULL,
            # A session of its own: the terminal's Ctrl-C reaches only us, and we stop the
            # whole group (runserver's and rqworker's own children included) in order.
            start_new_session=True,
            preexec_fn=die_with_parent,  # safe: the demo runs no threads of its own
        )
        child = Child(name, process, log_path, may_exit, handle)
        self.items.append(child)
        return child

    def died(self) -> Child | None:
        """A child that exited although it should still run."""
        for child in self.items:
            if not child.may_exit and child.process.poll() is not None:
                return child
        return None

    def stop_all(self, grace: float = 3.0) -> None:
        """Stop the children newest first (the simulator last, so a worker's last page still works).

        SIGTERM, then SIGTERM again (rq's cold shutdown), then SIGKILL, each to the whole group.
        """
        for child in reversed(self.items):
            for signum in (signal.SIGTERM, signal.SIGTERM, signal.SIGKILL):
                if child.process.poll() is not None:
                    break
                _signal_group(child.process, signum)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.process.wait(timeout=grace)
            # Grandchildren (rq's work horse, runserver's threads' helpers) go with their group.
            _signal_group(child.process, signal.SIGKILL)
            if child.process.poll() is None:
                child.process.wait()
            if child._log:
                child._log.close()


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)
