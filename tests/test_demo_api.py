"""The demo can run the simulator under any limiter, product pattern, costs and rate headers."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from insights_app.management.commands.insights_simulator import Command as SimulatorCommand
from insights_app.simulator.background import BACKGROUND_PATTERNS
from insights_app.simulator.limiters import LIMITERS
from insights_app.simulator.rateheaders import RATE_HEADER_MODES

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


@pytest.fixture
def demo(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPTS))
    for name in ("DEMO_LIMITER", "DEMO_ENDPOINT_COSTS", "DEMO_POINTS_PER_MINUTE"):
        monkeypatch.delenv(name, raising=False)
    module = importlib.import_module("demo")
    yield module
    sys.modules.pop("demo", None)


def built(flags: list[str]):
    """The simulator server the command would build from ``flags``."""
    command = SimulatorCommand()
    parser = command.create_parser("manage.py", "insights_simulator")
    return command.build_server(vars(parser.parse_args(["--rooms", "2", *flags])))


def test_the_demos_choices_are_the_simulators(demo):
    from demo_api import BACKGROUND_PATTERNS as patterns
    from demo_api import LIMITERS as limiters
    from demo_api import RATE_HEADER_MODES as modes

    assert (limiters, patterns, modes) == (LIMITERS, BACKGROUND_PATTERNS, RATE_HEADER_MODES)


def test_flags_and_environment_reach_the_simulator(demo, monkeypatch):
    args = demo.parse_args(
        ["--limiter", "sliding", "--points-per-minute", "600", "--background-pattern", "bursty",
         "--background-points-per-minute", "120", "--endpoint-cost", "rooms=5",
         "--rate-headers", "nonsense", "--rate-header-share", "0.3"]
    )  # fmt: skip
    server = built(demo.simulator_api_flags(args))
    assert (server.limiter, server.points_per_minute, server.background_pattern) == ("sliding", 600, "bursty")
    assert server.background_points_per_minute == 120
    assert server.endpoint_costs == {"/insights/rooms": 5}
    assert (server.rate_headers.mode, server.rate_headers.share) == ("nonsense", 0.3)
    monkeypatch.setenv("DEMO_LIMITER", "bucket")
    monkeypatch.setenv("DEMO_ENDPOINT_COSTS", "rooms=2, participant=3")
    monkeypatch.setenv("DEMO_POINTS_PER_MINUTE", "900")
    server = built(demo.simulator_api_flags(demo.parse_args([])))
    assert (server.limiter, server.points_per_minute) == ("bucket", 900)
    assert server.endpoint_costs == {"/insights/rooms": 2, "/insights/participant": 3}


def test_by_default_the_demo_api_is_unlimited_fixed_and_truthful(demo):
    server = built(demo.simulator_api_flags(demo.parse_args([])))
    assert (server.limiter, server.points_per_minute, server.rate_headers.mode) == ("fixed", None, "normal")
