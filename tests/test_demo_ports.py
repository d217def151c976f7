"""``make demo`` picks ports that never collide and says clearly when one is taken (before starting anything)."""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "scripts" / "demo.py"


@pytest.fixture(scope="module")
def demo_module():
    sys.path.insert(0, str(DEMO.parent))
    try:
        yield importlib.import_module("demo")
    finally:
        sys.path.remove(str(DEMO.parent))


@pytest.fixture
def taken() -> Iterator[int]:
    """A port something listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def free() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_simulator_never_takes_the_site_port(demo_module):
    site = free()
    # DEMO_PORT=8765 with the simulator's default 8765: the simulator goes elsewhere.
    chosen_site, simulator = demo_module.choose_ports(site, None, preferred=site)
    assert chosen_site == site and simulator != site
    other = free()
    assert demo_module.choose_ports(site, None, preferred=other) == (site, other)


@pytest.mark.integration  # holds a port open
def test_a_taken_preferred_simulator_port_is_replaced_by_a_free_one(demo_module, taken):
    site = free()
    _site, simulator = demo_module.choose_ports(site, None, preferred=taken)
    assert simulator not in (taken, site)


@pytest.mark.integration  # holds a port open
def test_ports_asked_for_must_be_free_and_distinct(demo_module, taken):
    site = free()
    with pytest.raises(demo_module.PortProblem, match=rf"port {taken} is in use"):
        demo_module.choose_ports(taken, None)
    with pytest.raises(demo_module.PortProblem, match=rf"--sim-port {site} is the site's port"):
        demo_module.choose_ports(site, site)
    with pytest.raises(demo_module.PortProblem, match=rf"--sim-port {taken} is in use"):
        demo_module.choose_ports(site, taken)


def run_demo(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "WHEREBY_API_KEY"}}
    return subprocess.run(
        [sys.executable, str(DEMO), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.integration  # runs the demo in a subprocess
def test_the_demo_refuses_one_port_for_both_before_starting_anything(tmp_path):
    port = str(free())
    result = run_demo("--port", port, "--sim-port", port, "--log-dir", str(tmp_path))
    assert result.returncode == 1
    assert f"error: --sim-port {port} is the site's port too" in result.stdout
    assert "simulator:" not in result.stdout and "site:" not in result.stdout
    assert list(tmp_path.iterdir()) == []  # no child was started


@pytest.mark.integration  # runs the demo in a subprocess
def test_the_demo_names_a_taken_site_port(tmp_path, taken):
    result = run_demo("--port", str(taken), "--log-dir", str(tmp_path))
    assert result.returncode == 1
    assert f"error: port {taken} is in use" in result.stdout
    assert "DEMO_PORT=" in result.stdout


@pytest.mark.integration  # runs the demo in a subprocess
@pytest.mark.parametrize("bad", ["0", "70000", "http"])
def test_a_bad_port_is_refused_by_argparse(bad):
    result = run_demo("--port", bad)
    assert result.returncode == 2
    assert "--port" in result.stderr and "port number" in result.stderr
