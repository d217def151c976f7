"""A call of an endpoint whose cost is not learned reserves the most a call may cost; after the answer it
is settled at what it cost (the rest refunded), so the busiest minute stays within the share while the
points counted and shown are the points the API charged."""

from __future__ import annotations

import pytest

from insights_app.simulator import OrgSpec, SimulatorServer, generate_organisation
from insights_app.sync import InProcess, create_or_get_active_run, execute_run
from insights_app.whereby.budget.current import get_budget
from insights_app.whereby.budget.shared import RedisBudget
from insights_app.whereby.client import WherebyClient
from tests.helpers import TEST_API_KEY
from tests.helpers.limiter import find_the_limiter

# What the organisation charges per call; the app is told none of it (only the key and the URL).
COSTS = {
    "/insights/rooms": 7,
    "/insights/room-sessions": 3,
    "/insights/participants": 2,
    "/insights/participant": 1,
}


def full_sync(settings, server: SimulatorServer, **extra):
    """A first full sync, configured as a new user does: only the key and the URL (and the policy)."""
    settings.WHEREBY_INSIGHTS = {"API_KEY": TEST_API_KEY, "BASE_URL": server.base_url, **extra}
    run, _ = create_or_get_active_run("full", trigger="command", backend=InProcess())
    return execute_run(run.pk, backend=InProcess())


def busiest_minute(server: SimulatorServer) -> int:
    """The most points the simulator charged our key within any 60 s (its own ledger, counted)."""
    charged = [(r.time, r.points) for r in server.request_log if r.status == 200]
    return max(sum(p for t, p in charged if start <= t < start + 60) for start, _ in charged)


@pytest.mark.django_db(transaction=True)
def test_a_first_sync_counts_and_logs_what_the_api_charged_not_what_it_reserved(settings, redis_conn):
    """Every endpoint is new: each first call reserves 10 points, yet the run's points, the shared log
    (what the dashboard shows and the gate checks) and the per-minute counters hold the API's charges,
    but for the calls of an endpoint whose cost was not yet known for good (the limiter unknown, or a
    cost resting on few falls): those count at most the 10 points a call may cost, never less than
    it cost."""
    org = generate_organisation(OrgSpec(seed=5, rooms=3, sessions_per_room=3, participants_per_session=2))
    with SimulatorServer(org, TEST_API_KEY, points_per_minute=1200, endpoint_costs=COSTS) as server:
        run = full_sync(settings, server, DETAIL_POLICY="all")
        charged = sum(r.points for r in server.request_log)

    assert run.status == "succeeded"
    assert server.counters["/insights/participant"] > 0, "every endpoint was called"
    leeway = 10 * len(COSTS)
    assert charged <= run.api_points <= charged + leeway
    budget = get_budget()
    assert charged <= budget.spent_last_minute() <= charged + leeway
    assert charged <= sum(budget.used_per_minute()) <= charged + leeway
    assert budget.shared_costs() == {e: c for e, c in COSTS.items() if e != "/insights/rooms"}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_busiest_minute_of_a_concurrent_first_sync_stays_within_the_share(settings, redis_conn):
    """A limit of 60 points a minute (share 30) and a rooms listing costing 10: more work than one
    minute's share, fetched with several calls in flight, never takes more than 30 points in any minute
    of the API's own ledger. (Reserving 1 point for the first call of each endpoint took 37.)"""
    org = generate_organisation(OrgSpec(seed=5, rooms=3, sessions_per_room=3, participants_per_session=2))
    costs = {**COSTS, "/insights/rooms": 10}
    with SimulatorServer(org, TEST_API_KEY, points_per_minute=60, endpoint_costs=costs) as server:
        run = full_sync(settings, server, DETAIL_POLICY="none", FETCH_CONCURRENCY=8)
        charged = sum(r.points for r in server.request_log)

    assert run.status == "succeeded"
    assert charged > 30, "more work than one minute's share"
    assert [r for r in server.request_log if r.status == 429] == []
    assert busiest_minute(server) <= 30
    assert charged <= run.api_points <= charged + 10 * len(COSTS)


def test_calls_held_back_while_an_endpoint_is_learned_then_go_out_together(simulator_factory, redis_conn):
    """Eight participants calls queue while the endpoint is new: the first goes alone, its fall of
    1 point says the cost exactly, and the seven others are then in flight together."""
    server = simulator_factory(seed=2, rooms=1, sessions_per_room=8, participants_per_session=1)
    server.faults.latency_ms = 200
    budget = RedisBudget(redis_conn, "gate-test", 600_000)
    client = WherebyClient(TEST_API_KEY, server.base_url, budget=budget, concurrency=8)
    try:
        find_the_limiter(client, budget)
        room = next(client.iter_rooms())["roomName"]
        sessions = list(client.iter_room_sessions(room))
        assert len(sessions) == 8
        server.most_in_flight = 0
        fetched = client.in_parallel(
            lambda s: list(client.iter_participants(room_session_id=s["roomSessionId"])), sessions
        )
        assert all(not isinstance(people, Exception) for _s, people in fetched)
    finally:
        client.close()
    assert budget.points_for("/insights/participants") == 1
    assert server.most_in_flight >= 6
