"""The two test tiers: which tests are integration tests, and a guard that keeps the fast tier honest.

A test is an integration test when it needs Redis, a subprocess, a server (the simulator, the live
server, a hook receiver) or a browser. Most are found from the fixtures they use; the rest carry an
explicit ``pytest.mark.integration``. Every other test runs under a guard that refuses a connection
something answered (a refused one is a test of "the server is down", which needs no server), a
listening socket and a new process, and fails the test if it tried one (even when the code under
test swallowed the error), so a missing mark is found in every run where Redis is up, not only in
the fast tier.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest

# Fixtures that mean Redis, a server or a process (the fixtures built on them are found through them:
# pytest lists the whole closure in item.fixturenames).
INTEGRATION_FIXTURES = frozenset(
    {"redis_url", "redis_conn", "simulator_factory", "rq_worker_factory", "live_server", "chromium"}
)
# Markers that mean a browser or a site of its own (subprocesses).
INTEGRATION_MARKERS = ("browser", "own_site")

_INET = (socket.AF_INET, socket.AF_INET6)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return host == "localhost"


def _caller() -> str:
    """The innermost frame of the app or the tests that led here, to name in the message."""
    for frame in reversed(traceback.extract_stack()[:-3]):
        if (
            "/insights_app/" in frame.filename or "/tests/" in frame.filename
        ) and "tiers.py" not in frame.filename:
            return f", from {frame.filename.rsplit('/insights_app/', 1)[-1]}:{frame.lineno} {frame.name}"
    return ""


class UnmarkedIntegrationError(RuntimeError):
    """A test without the integration mark tried to reach a server, serve, or start a process."""


def is_integration(item: pytest.Item) -> bool:
    """Whether ``item`` needs Redis, a subprocess, a server or a browser, by its marks and fixtures."""
    if item.get_closest_marker("integration"):
        return True
    if any(item.get_closest_marker(name) for name in INTEGRATION_MARKERS):
        return True
    return bool(INTEGRATION_FIXTURES.intersection(getattr(item, "fixturenames", ())))


# Before -m deselects (the mark plugin does that in this same hook).
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs Redis, a subprocess, a server or a browser as ``integration``."""
    for item in items:
        if is_integration(item) and not item.get_closest_marker("integration"):
            item.add_marker(pytest.mark.integration)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Remember whether the test's setup or call failed (the guard's teardown then does not fail it twice)."""
    report = yield
    if call.when in ("setup", "call") and report.failed:
        item._tier_call_failed = True  # type: ignore[attr-defined]
    return report


class Guard:
    """Refuses answered connections, listening sockets and new processes while installed."""

    def __init__(self, test: str) -> None:
        self.test = test
        self.violations: list[str] = []
        self._saved: list[tuple[object, str, object]] = []

    def _refuse(self, what: str) -> UnmarkedIntegrationError:
        where = f"thread {threading.current_thread().name}{_caller()}"
        message = (
            f"{self.test} {what} ({where}) but is not marked integration: mark it "
            "`@pytest.mark.integration` (or use the redis_conn / simulator_factory / live_server fixtures)"
        )
        self.violations.append(message)
        return UnmarkedIntegrationError(message)

    def _patch(self, owner: object, name: str, replacement: object) -> None:
        self._saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, replacement)

    def install(self) -> None:
        self._patch(socket.socket, "connect", self._guarded_connect(socket.socket.connect))
        self._patch(socket.socket, "connect_ex", self._guarded_connect_ex(socket.socket.connect_ex))
        self._patch(socket.socket, "listen", self._guarded_listen(socket.socket.listen))
        self._patch(subprocess.Popen, "_execute_child", self._refusing("subprocess"))
        for name in ("fork", "forkpty", "system", "posix_spawn", "posix_spawnp"):
            if hasattr(os, name):
                self._patch(os, name, self._refusing(f"os.{name}"))

    def _check_host(self, address: Any) -> None:
        if not _is_loopback(str(address[0])):
            raise self._refuse(f"connected to {address!r}, off this machine")

    def _guarded_connect(self, connect: Callable[..., None]) -> Callable[..., None]:
        def guarded(sock: socket.socket, address: Any) -> None:
            if sock.family not in _INET:
                return connect(sock, address)
            self._check_host(address)
            connect(sock, address)  # refused: the test meant a server that is down, which is allowed
            sock.close()
            raise self._refuse(f"connected to {address!r}")

        return guarded

    def _guarded_connect_ex(self, connect_ex: Callable[..., int]) -> Callable[..., int]:
        def guarded(sock: socket.socket, address: Any) -> int:
            if sock.family not in _INET:
                return connect_ex(sock, address)
            self._check_host(address)
            code = connect_ex(sock, address)
            if code == 0:
                sock.close()
                raise self._refuse(f"connected to {address!r}")
            return code

        return guarded

    def _guarded_listen(self, listen: Callable[..., None]) -> Callable[..., None]:
        def guarded(sock: socket.socket, *args: Any) -> None:
            if sock.family in _INET:
                raise self._refuse(f"listened on {sock.getsockname()!r}")
            listen(sock, *args)

        return guarded

    def _refusing(self, what: str) -> Callable[..., Any]:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise self._refuse(f"started a process ({what} {str(args[:2])[:200]})")

        return refuse

    def uninstall(self) -> None:
        while self._saved:
            owner, name, original = self._saved.pop()
            setattr(owner, name, original)


@pytest.fixture(autouse=True)
def _tier_guard(request: pytest.FixtureRequest) -> Iterator[Guard | None]:
    """Outside the integration tier, refuse Redis, servers and processes, and fail a test that tried."""
    if is_integration(request.node):
        yield None
        return
    guard = Guard(request.node.nodeid)
    guard.install()
    try:
        yield guard
    finally:
        guard.uninstall()
    # A call that failed on the guard's error has said it already; one that swallowed it has not.
    if guard.violations and not getattr(request.node, "_tier_call_failed", False):
        pytest.fail("\n".join(dict.fromkeys(guard.violations)), pytrace=False)
