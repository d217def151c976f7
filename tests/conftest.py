"""Shared fixtures: a real simulator over HTTP, the test Redis database, a real rqworker."""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from hypothesis import settings as hypothesis_settings

# wait_for and friends moved to tests.helpers; importable from here until every branch imports them there.
from tests.helpers import ROOT, TEST_API_KEY, wait_for, worker_env  # noqa: F401
from tests.helpers.admin_data import VIEW_PERMS, Data, make_data, make_user
from tests.helpers.checks import GOOD

# The integration mark (found from the fixtures a test uses) and the guard of the fast tier.
pytest_plugins = ["tests.helpers.tiers", "tests.helpers.shards", "pytester"]

# Property and fuzz tests: a bounded number of examples by default (CI), many with `make test-long`.
# The default profile (make test, CI) replays the same examples on every run, so a CI verdict does not
# depend on the draw; "long" (make test-long) explores new ones each time.
hypothesis_settings.register_profile("default", max_examples=40, deadline=None, derandomize=True)
hypothesis_settings.register_profile("long", max_examples=1000, deadline=None)
hypothesis_settings.load_profile(os.environ.get("INSIGHTS_HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True, scope="session")
def _shared_clocks_follow_a_pinned_host_clock() -> Iterator[None]:
    """A test that pins this process's clock (time_machine) pins the database's and Redis's with it:
    one clock on both sides (insights_app.models.clock). Subprocesses keep the real clocks."""
    from time_machine import escape_hatch

    from insights_app.models import clock

    before, clock.follows_host_clock = clock.follows_host_clock, escape_hatch.is_travelling
    yield
    clock.follows_host_clock = before


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis database; refuses database 0 so a running demo is never flushed."""
    url = django_settings.REDIS_URL
    if url.rstrip("/").endswith("/0") or url.rstrip("/").count("/") < 3:
        pytest.fail(f"tests need their own Redis database, not {url}: set REDIS_URL=redis://host:6379/15")
    return url


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[redis.Redis]:
    """A clean test Redis database for this test, and no cost book left by an earlier test."""
    from insights_app.whereby.budget import shared

    shared._books.clear()  # a book learned in another test would hide what this one must share
    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture
def simulator_factory() -> Iterator[Callable[..., object]]:
    """Start simulators over real HTTP on 127.0.0.1 (random port); all are stopped after the test."""
    from insights_app.simulator import FaultConfig, OrgSpec, SimulatorServer, generate_organisation

    servers: list[SimulatorServer] = []

    # Keywords SimulatorServer takes (limiter, background_pattern, endpoint_costs, rate_headers, ...)
    # go to the server; every other keyword describes the organisation (OrgSpec).
    server_options = set(inspect.signature(SimulatorServer).parameters) - {"organisation", "api_key"}

    def make(
        *,
        api_key: str = TEST_API_KEY,
        points_per_minute: int | None = None,
        faults: FaultConfig | None = None,
        **options: object,
    ) -> SimulatorServer:
        spec = {k: v for k, v in options.items() if k not in server_options}
        extra: dict[str, Any] = {k: v for k, v in options.items() if k in server_options}
        organisation = generate_organisation(OrgSpec(**spec))  # type: ignore[arg-type]
        server = SimulatorServer(
            organisation, api_key=api_key, points_per_minute=points_per_minute, faults=faults, **extra
        )
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def simulator(simulator_factory: Callable[..., object]) -> object:
    """A small organisation: 3 rooms, 12 sessions, 36 connections."""
    return simulator_factory(seed=1, rooms=3, sessions_per_room=4, participants_per_session=3)


@pytest.fixture
def whereby_settings(settings, simulator) -> dict:
    """Point the app at the running simulator."""
    settings.WHEREBY_INSIGHTS = {
        **getattr(settings, "WHEREBY_INSIGHTS", {}),
        "API_KEY": TEST_API_KEY,
        "BASE_URL": simulator.base_url,
        "BACKOFF_BASE": 0.01,
        "BACKOFF_MAX": 0.05,
        "RATE_BUDGET_POINTS_PER_MINUTE": 100_000,
        "PLAN_POINTS_PER_MINUTE": 100_000,
    }
    return settings.WHEREBY_INSIGHTS


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The field after the parenthesised command name is the state, then the parent pid.
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


class WorkerProcess:
    """A real ``manage.py rqworker`` subprocess listening on the app's queue."""

    def __init__(
        self, redis_url: str, queue: str, extra_env: dict[str, str] | None = None, *, plain: bool = False
    ) -> None:
        self.log_path = (
            Path(os.environ.get("TMPDIR", "/tmp"))
            / f"insights-rqworker-{os.getpid()}-{time.monotonic_ns()}.log"
        )
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            # As README and docs/deployment.md run it: the app's worker class, whose scheduler reads
            # due times on Redis's clock (where the webhook windows keep them), not this host's.
            [
                # Dies with this test process even when a SIGKILL skips the teardown below.
                sys.executable,
                str(ROOT / "tests" / "helpers" / "die_with_parent.py"),
                str(os.getpid()),
                sys.executable,
                str(ROOT / "manage.py"),
                "rqworker",
                queue,
                "--with-scheduler",
                *([] if plain else ["--worker-class", "insights_app.worker.InsightsWorker"]),
            ],
            cwd=ROOT,
            env=worker_env(redis_url, extra_env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Its own process group: rqworker forks a work horse per job, and a crash takes both.
            start_new_session=True,
        )

    def log(self) -> str:
        """What the worker printed so far."""
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the worker and its work horse at once, as a crash or an OOM kill would.

        RQ's work horse moves to a process group of its own, so it is found by its parent pid.
        """
        horses = _children(self.process.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for pid in horses:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the worker (SIGTERM to its group, then SIGKILL)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


@pytest.fixture
def rq_worker_factory(redis_conn, redis_url: str) -> Iterator[Callable[..., WorkerProcess]]:
    """Start real rqworker subprocesses; use with ``django_db(transaction=True)`` so they see the data."""
    from insights_app.conf import get_settings

    workers: list[WorkerProcess] = []

    def start(extra_env: dict[str, str] | None = None, *, plain: bool = False) -> WorkerProcess:
        env = {"INSIGHTS_TEST_SETTINGS_JSON": json.dumps(getattr(django_settings, "WHEREBY_INSIGHTS", {}))}
        env.update(extra_env or {})
        worker = WorkerProcess(redis_url, get_settings().QUEUE, env, plain=plain)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


# Data and users of the admin tests (tests.helpers.admin_data) ----------------------------------


@pytest.fixture
def data(db) -> Data:
    """A small organisation in the database."""
    return make_data()


@pytest.fixture
def viewer(django_user_model):
    """Staff who may look at the data (and the reports) but not start syncs."""
    return make_user(django_user_model, "viewer", (*VIEW_PERMS, "view_reports"))


@pytest.fixture
def syncer(django_user_model):
    """Staff who may look and start or cancel syncs."""
    return make_user(django_user_model, "syncer", (*VIEW_PERMS, "run_sync", "view_reports"))


@pytest.fixture
def nobody(django_user_model):
    """Staff without any permission of the app."""
    return make_user(django_user_model, "nobody")


# The app's system checks (tests.helpers.checks) -------------------------------------------------


@pytest.fixture
def good(settings, redis_url: str) -> Iterator[object]:
    """A correct configuration: no message of ours at all (no other site seen on the test queue)."""
    from insights_app.site import ROLL_CALL, ROLL_CALL_LABELS

    def forget_sites() -> None:
        # Only the roll-call of the test's own Redis database: W005 reads it, and tests change sites.
        conn = redis.Redis.from_url(redis_url)
        conn.delete(ROLL_CALL.format(GOOD["QUEUE"]), ROLL_CALL_LABELS.format(GOOD["QUEUE"]))
        conn.close()

    settings.DEBUG = False
    settings.USE_TZ = True
    settings.WHEREBY_INSIGHTS = dict(GOOD)
    forget_sites()
    yield settings
    forget_sites()
