"""The two test tiers: tests that need Redis or a server are marked integration, and the rest are held to it."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

# An inner pytest run with only the tiers plugin (no Django): what happens to a test that reaches out.
INNER_CONFTEST = 'pytest_plugins = ["tests.helpers.tiers"]\n'
INNER_TESTS = """
import contextlib
import socket
import subprocess
import sys

import pytest

PORT = {port}
CLOSED = {closed}


def test_swallowed_connection_to_a_server():
    with contextlib.suppress(Exception):
        socket.create_connection(("127.0.0.1", PORT), timeout=2).close()


def test_connection_to_a_server_that_is_down():
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", CLOSED), timeout=2)


def test_starts_a_process():
    subprocess.run([sys.executable, "-c", "pass"], check=True)


def test_serves():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.close()


@pytest.mark.integration
def test_marked_connection_to_a_server():
    socket.create_connection(("127.0.0.1", PORT), timeout=2).close()


def test_pure():
    assert sum(range(4)) == 6
"""


@pytest.fixture
def listening() -> Iterator[int]:
    """A port something listens on."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def closed_port() -> int:
    """A port nothing listens on (bound, never listening, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.integration  # serves a port and runs an inner pytest that reaches it
def test_an_unmarked_test_that_reaches_a_server_serves_or_starts_a_process_fails(pytester, listening):
    pytester.makeconftest(INNER_CONFTEST)
    pytester.makepyfile(test_inner=INNER_TESTS.format(port=listening, closed=closed_port()))
    result = pytester.runpytest_inprocess("-p", "no:django", "-p", "no:cacheprovider", "-rA")
    outcomes = result.parseoutcomes()
    assert (outcomes.get("passed"), outcomes.get("failed"), outcomes.get("errors")) == (4, 2, 1), (
        result.outlines
    )
    # The swallowed connection still fails its test, in teardown, naming the test and what it did.
    result.stdout.fnmatch_lines(
        ["*test_swallowed_connection_to_a_server*connected to*not marked integration*"]
    )
    result.stdout.fnmatch_lines(["FAILED*test_starts_a_process*"])
    result.stdout.fnmatch_lines(["FAILED*test_serves*"])
    for fine in ("connection_to_a_server_that_is_down", "marked_connection_to_a_server", "pure"):
        result.stdout.fnmatch_lines([f"PASSED*test_{fine}"])
    result.stdout.fnmatch_lines(["PASSED*test_swallowed_connection_to_a_server"])  # the call itself


def test_a_test_using_redis_or_a_server_is_marked_integration(request, redis_url, simulator_factory):
    assert request.node.get_closest_marker("integration")


def test_a_test_needing_none_is_not(request):
    assert request.node.get_closest_marker("integration") is None
