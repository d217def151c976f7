"""Several requests in flight inside the budget, participants stored in batches: no 429 from the
concurrency, completion marks never ahead of the rows, and a crash in the middle of a batch loses
only what the next run fetches again."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from insights_app.errors import Interrupted, ServerError, TransportError
from insights_app.models import Participant, Room, RoomSession, SyncRun
from insights_app.simulator import OrgSpec, SimulatorServer, generate_organisation
from insights_app.sync import InProcess, create_or_get_active_run, execute_run
from insights_app.whereby.budget.current import get_budget
from insights_app.whereby.client import WherebyClient
from insights_app.whereby.fetchpool import AHEAD, Ahead, FetchPool
from tests.helpers import PARTICIPANTS, ROOT, TEST_API_KEY, wait_for, worker_env
from tests.helpers.org_compare import assert_db_equals_org

COSTS = {"/insights/rooms": 4, "/insights/room-sessions": 2, "/insights/participants": 3}


@pytest.mark.django_db(transaction=True)
def test_requests_overlap_inside_an_enforced_budget_without_a_429(settings, redis_conn):
    """The simulator refuses more than 40 points per 2 s; we may spend 15 a second, 4 calls at once."""
    org = generate_organisation(OrgSpec(seed=3, rooms=3, sessions_per_room=8, participants_per_session=3))
    with SimulatorServer(
        org, TEST_API_KEY, points_per_minute=40, window_seconds=2.0, endpoint_costs=COSTS
    ) as server:
        server.faults.latency_ms = 500  # a call takes longer than the budget's gap between two calls
        settings.WHEREBY_INSIGHTS = {
            "API_KEY": TEST_API_KEY,
            "BASE_URL": server.base_url,
            "PLAN_POINTS_PER_MINUTE": 1800,
            "RATE_BUDGET_POINTS_PER_MINUTE": 900,
            "FETCH_CONCURRENCY": 4,
            "DETAIL_POLICY": "none",
        }
        run, _ = create_or_get_active_run("full", trigger="command", backend=InProcess())
        run = execute_run(run.pk, backend=InProcess())

        assert run.status == "succeeded"
        assert [r for r in server.request_log if r.status == 429] == []
        assert server.most_in_flight >= 2, "participants of several sessions were fetched at once"
        assert_db_equals_org(org, details="none")
        # Costs are still learned while calls overlap (each endpoint's first calls go alone).
        assert get_budget().costs.known()["/insights/participants"] == 3


def start_sync(redis_url: str, conf: dict) -> subprocess.Popen:
    """``manage.py insights_sync --full`` as its own process on the test database and Redis."""
    env = worker_env(redis_url, {"INSIGHTS_TEST_SETTINGS_JSON": json.dumps(conf)})
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "insights_sync", "--full"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def assert_marks_follow_rows(org) -> tuple[int, int]:
    """Every session marked complete holds all its API participants; every room marked complete holds
    all its sessions, each marked. Returns how many sessions and rooms are marked."""
    stored = {}
    for session_id, participant_id in Participant.objects.values_list(
        "room_session__room_session_id", "participant_id"
    ):
        stored.setdefault(session_id, set()).add(participant_id)
    marked_sessions = set(
        RoomSession.objects.exclude(participants_synced_signature="").values_list(
            "room_session_id", flat=True
        )
    )
    for session_id in marked_sessions:
        expected = {p["participantId"] for p in org.participant_items(session_id)}
        assert stored.get(session_id, set()) == expected, session_id
    rooms = Room.objects.exclude(sessions_synced_signature="").values_list("room_name", flat=True)
    for room_name in rooms:
        for item in org.session_items(room_name):
            assert item["roomSessionId"] in marked_sessions, (room_name, item["roomSessionId"])
    return len(marked_sessions), len(rooms)


@pytest.mark.django_db(transaction=True)
def test_a_crash_mid_batch_then_a_resume_stores_everything_once(simulator_factory, redis_url):
    """SIGKILL once the first batch is stored: marks never run ahead of rows, and the next run completes."""
    server = simulator_factory(seed=21, rooms=40, sessions_per_room=10, participants_per_session=5)
    conf = {
        "API_KEY": TEST_API_KEY,
        "BASE_URL": server.base_url,
        "PLAN_POINTS_PER_MINUTE": 1_000_000,
        "RATE_BUDGET_POINTS_PER_MINUTE": 1_000_000,
        "DETAIL_POLICY": "none",
        "ABANDONED_AFTER_SECONDS": 1,
    }
    process = start_sync(redis_url, conf)
    try:
        wait_for(lambda: Participant.objects.exists(), timeout=120, interval=0.02)
        first_batch = server.counters[PARTICIPANTS]
        # Well into the second batch (a batch holds the participants of about 200 of these sessions).
        wait_for(lambda: server.counters[PARTICIPANTS] >= first_batch + 30, timeout=60, interval=0.01)
        process.send_signal(signal.SIGKILL)
    finally:
        process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    api_total = sum(len(org_p) for org_p in _participants_by_session(server.organisation).values())
    stored_at_crash = Participant.objects.count()
    assert 0 < stored_at_crash < api_total, "killed between two batches of the first run"
    marked_sessions, _rooms = assert_marks_follow_rows(server.organisation)
    assert marked_sessions < RoomSession.objects.count()

    time.sleep(1.5)  # the killed run's heartbeat goes stale (ABANDONED_AFTER_SECONDS)
    calls_before = server.counters[PARTICIPANTS]
    resumed = start_sync(redis_url, conf)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, (out, err)
    assert SyncRun.objects.order_by("-pk").first().status == "succeeded"
    assert_db_equals_org(server.organisation, details="none")
    assert Participant.objects.count() == api_total  # no duplicates
    assert server.counters[PARTICIPANTS] > calls_before  # the lost buffer was fetched again
    assert assert_marks_follow_rows(server.organisation)[0] == RoomSession.objects.count()


def _participants_by_session(org) -> dict[str, list]:
    return {
        s["roomSessionId"]: org.participant_items(s["roomSessionId"])
        for room in org.room_items()
        for s in org.session_items(room["roomName"])
    }


@pytest.mark.django_db
def test_a_large_budget_is_reserved_from_redis_in_batches_not_per_call(settings, simulator, redis_conn):
    """At 600,000 points a minute a tenth of a second is 1,000 points: one reservation serves many calls."""
    settings.WHEREBY_INSIGHTS = {
        "API_KEY": TEST_API_KEY,
        "BASE_URL": simulator.base_url,
        "PLAN_POINTS_PER_MINUTE": 1_200_000,
        "RATE_BUDGET_POINTS_PER_MINUTE": 600_000,
    }
    client = WherebyClient.from_settings()
    for room in client.iter_rooms():
        for session in client.iter_room_sessions(room["roomName"]):
            list(client.iter_participants(room_session_id=session["roomSessionId"]))
    reservations = redis_conn.zcard(client.budget._log_key)
    assert client.stats.requests >= 15
    assert 1 <= reservations <= client.stats.requests // 5
    assert client.budget.spent_last_minute() >= client.stats.requests  # reserved before spent, never after


def test_the_environment_is_read_once_per_client_not_per_call(simulator, monkeypatch):
    """requests looked up proxies, NO_PROXY, netrc and CA bundle on every call; now once, at construction."""
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    client = WherebyClient(TEST_API_KEY, simulator.base_url, max_retries=0)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # a proxy nobody listens on, set too late
    assert len(list(client.iter_rooms())) == 3
    proxied = WherebyClient(TEST_API_KEY, simulator.base_url, max_retries=0)  # set before: honoured
    with pytest.raises(TransportError):
        list(proxied.iter_rooms())


def test_the_pool_answers_in_order_and_an_outage_stops_the_rest():
    """Results come back in the items' order whatever finishes first; an outage is reported as such
    (not as a cancel) and the items queued behind it are never started."""
    pool = FetchPool(4)
    started: list[int] = []

    def slow_first(n: int) -> int:
        started.append(n)
        time.sleep(0.05 * (5 - n) if n < 5 else 0)
        return n * n

    try:
        assert [value for _n, value in pool.map(slow_first, range(8))] == [n * n for n in range(8)]

        def outage_at_two(n: int) -> int:
            started.append(n)
            if n == 2:
                raise ServerError("answered 500")
            stop = pool.worker_interrupt()
            while not (stop and stop()):  # a call waiting on the budget until told to stop
                time.sleep(0.01)
            raise Interrupted("stopped")

        started.clear()
        outcomes = list(pool.map(outage_at_two, range(50), stop_on=(ServerError,)))
        assert len(outcomes) == 50
        assert all(isinstance(error, ServerError) for _n, error in outcomes)  # an outage, not a cancel
        assert len(started) <= AHEAD * 4  # only what was queued before the outage ever started
    finally:
        pool.close()


def test_the_read_ahead_is_sized_by_rows_so_the_threads_keep_fetching_while_the_caller_writes():
    """With weights (rows a fetch will hold), items are handed out until the rows ahead reach the
    limit, not AHEAD per thread: a caller busy writing a batch finds the next results fetched; and
    no more than the limit is ever held ahead (memory bounded by rows)."""
    pool = FetchPool(4)
    pulled = 0
    answered: list[int] = []

    def items():
        nonlocal pulled
        for n in range(1000):
            pulled += 1
            yield n

    def fetch(n: int) -> int:
        answered.append(n)
        return n

    try:
        outcomes = pool.map(fetch, items(), ahead=Ahead(lambda n: 5.0, 1000))
        most_ahead = 0
        for consumed, (n, value) in enumerate(outcomes, start=1):
            assert value == n
            most_ahead = max(most_ahead, pulled - consumed)
            if consumed == 1:
                handed_out = pulled
                # The caller is busy (writing a batch): the threads fetch everything handed out.
                wait_for(lambda: len(answered) == 200, timeout=30, interval=0.01)
                fetched_while_writing = len(answered)
        assert handed_out == 200 > AHEAD * 4  # 1,000 rows of 5 each
        assert fetched_while_writing == 200
        assert most_ahead <= 200
    finally:
        pool.close()
