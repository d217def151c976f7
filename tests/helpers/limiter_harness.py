"""Measure the budget promise: a real sync against a simulator with a given limiter, costs, product
spend and rate headers, judged from the simulator's own ledger of points.

    from tests.helpers.limiter_harness import Scenario, measure_sync

    @pytest.mark.django_db(transaction=True)
    def test_x(redis_url):
        result = measure_sync(Scenario(limiter="bucket", costs={"rooms": 5}, workers=2, seconds=70))
        assert result.busiest <= result.share * 1.02 and result.throttled_steady == 0

Real parts only: the simulator serves over HTTP (started and stopped here, one per call, so a
hypothesis test may call this once per example), the app's budget lives in the test Redis (flushed
at the start of each call), the sync is the app's own (``execute_run`` in a thread of this process
when ``workers`` is 0, else fanned out to ``workers`` real ``rqworker`` processes). The app is told
only the key and the URL unless ``Scenario.settings`` says more.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import redis
from django.conf import settings as django_settings
from django.test import override_settings

from insights_app.simulator import FaultConfig, Organisation, OrgSpec, SimulatorServer, generate_organisation
from insights_app.simulator.ledger import OURS, PRODUCT
from insights_app.simulator.spec import default_now
from tests.helpers import TEST_API_KEY

# The organisation as it was at least this long ago, unless a scenario sets its ``now``: a connection
# that ended within the data-lag lookback (up to an hour and a schedule interval) gets no details yet,
# so with the real "now" a scenario's calls and points depended on the time of day the test ran.
ORG_AGE = timedelta(hours=3)
# Sessions peak in office hours of real weekdays: at some hours of some days one is still going on at
# the organisation's "now" (its people get no details). The harness steps back an hour at a time, at
# most this often, to an instant with none going on.
SETTLED_TRIES = 48

# About 60-90 s of work at 600 points a minute with details (the bench's cell size).
DEFAULT_ORG: dict[str, Any] = {
    "seed": 11,
    "rooms": 12,
    "sessions_per_room": 10,
    "participants_per_session": 3,
    "days": 30,
    "max_samples": 120,
}


@dataclass(frozen=True)
class Scenario:
    """What the API does (hidden from the app) and how the app runs."""

    limiter: str = "fixed"  # "fixed", "sliding" or "bucket"
    points_per_minute: int = 600  # the organisation's limit
    costs: dict[str, int] = field(default_factory=dict)  # {"rooms": 5, "participant": 2, ...}; else 1
    background_points_per_minute: float = 0.0  # the customer's product
    background_pattern: str = "even"  # "even", "random" or "bursty"
    rate_headers: str = "normal"  # "normal", "missing", "nonsense" or "lying"
    rate_header_share: float = 0.1
    workers: int = 0  # 0: the sync runs in this process; N: fanned out to N rqworker processes
    seconds: float = 75.0  # the run is cancelled after this long if it has not finished
    latency_ms: int = 0  # added to every answer (across the internet: 100-300 ms)
    details: str = "all"
    org: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_ORG))  # OrgSpec fields
    settings: dict[str, Any] = field(default_factory=dict)  # more WHEREBY_INSIGHTS for the app
    window_seconds: float = 60.0  # the promise's window (the limiter's too)
    fresh_db: bool = True  # forget synced rows and runs of an earlier call first


@dataclass
class Measured:
    """What the simulator saw of one run (times are the simulator's ``time.monotonic()``)."""

    scenario: Scenario
    busiest: int  # our points in the busiest rolling ``window_seconds``
    busiest_start: float
    share: float  # RATE_BUDGET_POINTS_PER_MINUTE if set, else RATE_BUDGET_SHARE x the limit
    points: int  # all our points charged
    calls: int  # our requests (any status)
    throttled: int  # our 429s
    throttled_steady: int  # our 429s after the first window
    product_points: int
    product_refused: int
    started: float
    stopped: float  # when the run finished or was cancelled
    finished: bool  # the run ended by itself (succeeded or failed) within ``seconds``
    status: str  # the SyncRun's final status
    stopped_within: float | None  # seconds from the cancel to the run's end (None: not cancelled)
    learned_costs: dict[str, int]  # what the app believes each endpoint costs
    true_costs: dict[str, int]
    spends: list = field(repr=False, default_factory=list)  # our ledger entries
    throttle_times: list[float] = field(repr=False, default_factory=list)  # when our 429s came

    @property
    def pace(self) -> float:
        """Busiest rolling window against the share (the promise: <= 1)."""
        return self.busiest / self.share if self.share else 0.0

    @property
    def used_while_busy(self) -> float:
        """Our points per window while the run had work, against the share (the aim: close to 1)."""
        elapsed = max(self.stopped - self.started, 1e-9)
        spent = sum(s.points for s in self.spends if s.time <= self.stopped)
        return spent / (elapsed / self.scenario.window_seconds) / self.share if self.share else 0.0


def _reset_budget_state() -> None:
    """A clean test Redis database and no cost book from an earlier call (each call starts new)."""
    from insights_app.whereby.budget import shared

    url = django_settings.REDIS_URL
    if url.rstrip("/").endswith("/0"):
        raise RuntimeError(f"the limiter harness flushes Redis: give tests their own database, not {url}")
    redis.Redis.from_url(url).flushdb()
    shared._books.clear()


def _learned_costs() -> dict[str, int]:
    from insights_app.whereby.budget.current import get_budget

    try:
        return dict(get_budget().shared_costs())
    except Exception:  # reported, not asserted: a budget that cannot say is shown as empty
        return {}


def settled_organisation(fields: dict[str, Any]) -> Organisation:
    """The organisation of ``fields`` (OrgSpec's); without a ``now`` of their own, at the latest hour
    at least ``ORG_AGE`` ago at which every session has ended, so a run's calls and points are the
    same on any date and at any time of day."""
    if fields.get("now") is not None:
        return generate_organisation(OrgSpec(**fields))
    now = default_now() - ORG_AGE
    for _ in range(SETTLED_TRIES):
        organisation = generate_organisation(OrgSpec(**{**fields, "now": now}))
        if not organisation.stats()["ongoing_sessions"]:
            return organisation
        now -= timedelta(hours=1)
    raise RuntimeError(f"no instant in {SETTLED_TRIES} hours before {default_now()} has every session ended")


def measure_sync(scenario: Scenario) -> Measured:
    """Serve the scenario, run one full sync for at most ``scenario.seconds``, and measure it.

    Needs ``@pytest.mark.django_db(transaction=True)`` (the sync's thread or workers must see the
    rows) and a test Redis database in ``settings.REDIS_URL``.
    """
    from insights_app.models import SyncRun

    _reset_budget_state()
    if scenario.fresh_db:
        from insights_app.models import Room

        Room.objects.all().delete()  # sessions, participants and details go with their room
        SyncRun.objects.all().delete()
    server = SimulatorServer(
        settled_organisation(scenario.org),
        api_key=TEST_API_KEY,
        points_per_minute=scenario.points_per_minute,
        faults=FaultConfig(latency_ms=scenario.latency_ms),
        window_seconds=scenario.window_seconds,
        limiter=scenario.limiter,
        endpoint_costs=scenario.costs,
        background_points_per_minute=scenario.background_points_per_minute,
        background_pattern=scenario.background_pattern,
        rate_headers=scenario.rate_headers,
        rate_header_share=scenario.rate_header_share,
    )
    with server:
        conf = {"API_KEY": TEST_API_KEY, "BASE_URL": server.base_url, "DETAIL_POLICY": scenario.details}
        conf.update(scenario.settings)
        with override_settings(WHEREBY_INSIGHTS=conf):
            from insights_app.conf import get_settings

            # The app's share as it reads its settings: a budget set in points, else RATE_BUDGET_SHARE
            # (default 0.5) of the organisation's real limit.
            app = get_settings()
            budget = app.RATE_BUDGET_POINTS_PER_MINUTE
            share = (
                float(budget)
                if budget != "auto"
                else float(app.RATE_BUDGET_SHARE) * scenario.points_per_minute
            )
            if scenario.workers:
                started, stopped, run_id, cancelled_at = _run_with_workers(scenario, conf)
            else:
                started, stopped, run_id, cancelled_at = _run_in_process(scenario)
            run = SyncRun.objects.get(pk=run_id)
            learned = _learned_costs()
        ledger = server.ledger
    ours = [s for s in ledger.spends(OURS) if started <= s.time]
    busy = [s for s in ours if s.time <= stopped]
    start, busiest = ledger.busiest(OURS, scenario.window_seconds, since=started, until=stopped)
    throttled = [r for r in server.request_log if r.status == 429]
    return Measured(
        scenario=scenario,
        busiest=busiest,
        busiest_start=start,
        share=share,
        points=sum(s.points for s in ours),
        calls=len(server.request_log),
        throttled=len(throttled),
        throttled_steady=sum(1 for r in throttled if r.time > started + scenario.window_seconds),
        product_points=sum(s.points for s in ledger.spends(PRODUCT)),
        product_refused=ledger.refused[PRODUCT],
        started=started,
        stopped=stopped,
        finished=cancelled_at is None,
        status=run.status,
        stopped_within=None if cancelled_at is None else stopped - cancelled_at,
        learned_costs=learned,
        true_costs={path: server.endpoint_costs.get(path, 1) for path in _ENDPOINTS},
        spends=busy,
        throttle_times=[r.time for r in throttled],
    )


_ENDPOINTS = ("/insights/rooms", "/insights/room-sessions", "/insights/participants", "/insights/participant")


def _run_in_process(scenario: Scenario) -> tuple[float, float, int, float | None]:
    """``execute_run`` in a thread of this process; cancelled after ``seconds``."""
    from insights_app.models import SyncRun
    from insights_app.sync import InProcess, create_or_get_active_run, execute_run, request_cancel

    run, _ = create_or_get_active_run(
        "full", trigger="command", details=scenario.details, backend=InProcess()
    )
    errors: list[BaseException] = []

    def work() -> None:
        try:
            execute_run(run.pk, backend=InProcess())
        except BaseException as exc:  # the run records its own failure; keep the thread quiet
            errors.append(exc)
        finally:
            from django.db import connection

            connection.close()

    thread = threading.Thread(target=work, name="limiter-harness-sync", daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(scenario.seconds)
    cancelled_at = None
    if thread.is_alive():
        cancelled_at = time.monotonic()
        request_cancel(SyncRun.objects.get(pk=run.pk))
        thread.join(120)
    return started, time.monotonic(), run.pk, cancelled_at


def _run_with_workers(scenario: Scenario, conf: dict[str, Any]) -> tuple[float, float, int, float | None]:
    """A full sync fanned out to ``workers`` real rqworker processes sharing the Redis budget."""
    from insights_app.conf import get_settings
    from insights_app.jobs.enqueue import cancel_run, enqueue_sync
    from insights_app.models import SyncRun
    from tests.conftest import WorkerProcess

    rooms = int(scenario.org.get("rooms", DEFAULT_ORG["rooms"]))
    # Enough child jobs for every worker to hold one at a time.
    fanout = {"FANOUT_MIN_ROOMS": 1, "FANOUT_ROOMS_PER_JOB": max(1, rooms // (2 * scenario.workers))}
    conf = {**fanout, **conf}
    with override_settings(WHEREBY_INSIGHTS=conf):
        env = {"INSIGHTS_TEST_SETTINGS_JSON": json.dumps(conf)}
        workers = [
            WorkerProcess(django_settings.REDIS_URL, get_settings().QUEUE, env)
            for _ in range(scenario.workers)
        ]
        try:
            run = enqueue_sync(kind="full", trigger="admin", details=scenario.details).run
            started = time.monotonic()
            deadline = started + scenario.seconds
            cancelled_at = None
            while True:
                status = SyncRun.objects.get(pk=run.pk).status
                if status not in ("queued", "running"):
                    break
                if cancelled_at is None and time.monotonic() >= deadline:
                    cancelled_at = time.monotonic()
                    cancel_run(SyncRun.objects.get(pk=run.pk))
                if cancelled_at is not None and time.monotonic() > cancelled_at + 120:
                    break  # reported through stopped_within and status, not hidden
                time.sleep(0.1)
            return started, time.monotonic(), run.pk, cancelled_at
        finally:
            for worker in workers:
                worker.stop()
