"""The learned rate budget: the plan from X-RateLimit-Limit, our share of it, points per endpoint
learned from X-RateLimit-Remaining while the customer's product spends too, a strict rolling minute."""

from __future__ import annotations

import pytest

from insights_app.simulator import OrgSpec, SimulatorServer, generate_organisation
from insights_app.whereby.budget.current import budget_snapshot, get_budget
from insights_app.whereby.budget.local import LocalBudget
from insights_app.whereby.budget.shared import RedisBudget
from insights_app.whereby.client import WherebyClient
from tests.helpers import TEST_API_KEY
from tests.helpers.limiter import find_the_limiter

COSTS = {
    "/insights/rooms": 4,
    "/insights/room-sessions": 2,
    "/insights/participants": 3,
    "/insights/participant": 1,
}


@pytest.fixture
def org():
    return generate_organisation(OrgSpec(seed=3, rooms=6, sessions_per_room=4, participants_per_session=3))


def point_at(settings, server, **extra):
    """Only the key and the URL, as a new user sets them (plus test-speed backoff)."""
    settings.WHEREBY_INSIGHTS = {
        "API_KEY": TEST_API_KEY,
        "BASE_URL": server.base_url,
        "BACKOFF_BASE": 0.01,
        "BACKOFF_MAX": 0.05,
        **extra,
    }


def walk(client: WherebyClient, details: bool = True) -> None:
    """Every room, session, participant and (optionally) detail: each endpoint several times."""
    for room in client.iter_rooms():
        for session in client.iter_room_sessions(room["roomName"]):
            for person in client.iter_participants(room_session_id=session["roomSessionId"]):
                if details:
                    client.get_participant_details(session["roomSessionId"], person["participantId"])


def test_auto_plan_is_learned_from_the_first_answer_and_the_budget_is_the_share(settings, org, redis_conn):
    """Build plan (100) until the API answers; then X-RateLimit-Limit, and RATE_BUDGET_SHARE of it."""
    with SimulatorServer(org, TEST_API_KEY, points_per_minute=6000) as server:
        point_at(settings, server)
        budget = get_budget()
        assert (budget.figures().plan, budget.figures().plan_source, budget.figures().budget) == (
            100,
            "assumed",
            50,
        )
        client = WherebyClient.from_settings()
        next(client.iter_room_pages())
        figures = get_budget().figures()  # a new process sees what this one learned (Redis)
        assert (figures.plan, figures.plan_source, figures.budget, figures.budget_source) == (
            6000,
            "learned",
            3000,
            "share",
        )
        point_at(settings, server, RATE_BUDGET_SHARE=0.2)
        assert get_budget().figures().budget == 1200
        point_at(settings, server, PLAN_POINTS_PER_MINUTE=1000)
        figures = get_budget().figures()
        assert (figures.plan, figures.plan_source, figures.budget) == (1000, "set", 500)
        point_at(settings, server, RATE_BUDGET_POINTS_PER_MINUTE=77)
        figures = get_budget().figures()
        assert (figures.budget, figures.budget_source) == (77, "set")


def test_costs_are_learned_while_the_product_spends_and_points_are_counted(settings, org, redis_conn):
    """Each endpoint's cost is learned exactly despite a busy product; the client counts points, not calls."""
    with SimulatorServer(
        org, TEST_API_KEY, points_per_minute=100_000, endpoint_costs=COSTS, background_points_per_minute=600
    ) as server:
        point_at(settings, server)
        client = WherebyClient.from_settings()
        walk(client)
        clients = [client]
        for _ in range(4):  # the next syncs: each one's rooms call follows the previous one's last call
            last = WherebyClient.from_settings()
            walk(last, details=False)
            clients.append(last)
        assert server._limiter.background_spent > 0, "the product spent meanwhile"
        learned = get_budget().shared_costs()
        # Endpoints called many times are learned exactly; the rooms listing (one call per sync, each
        # after a long gap full of the product's calls) may still be over-estimated, never under.
        assert {e: c for e, c in learned.items() if e != "/insights/rooms"} == {
            e: c for e, c in COSTS.items() if e != "/insights/rooms"
        }
        assert COSTS["/insights/rooms"] <= learned["/insights/rooms"] <= 10
        # Until the limiter is known a call reserves what it may cost at most; the points counted are
        # each call valued at what it cost by the latest headers: in all, what the API charged.
        charged = sum(record.points for record in server.request_log)
        counted = sum(each.stats.points for each in clients)
        rooms_excess = learned["/insights/rooms"] - COSTS["/insights/rooms"]
        assert charged - 3 * len(COSTS) <= counted <= charged + 5 * rooms_excess + 10 * len(COSTS)
        assert client.stats.points > client.stats.requests
        latest = server.request_log[-last.stats.requests :]
        # Estimates still move by a point now and then while the product spends (see docs/budget.md).
        assert -2 <= last.stats.points - sum(record.points for record in latest) <= rooms_excess + 2
        snapshot = budget_snapshot()
        assert snapshot["points_per_call"] == {e.rsplit("/", 1)[1]: c for e, c in learned.items()}
        assert snapshot["points_per_call"]["participants"] == 3
        assert snapshot["plan_source"] == "learned" and snapshot["plan_points_per_minute"] == 100_000
        assert snapshot["spent_last_minute"] >= charged - 3 * len(COSTS)


def test_calls_sent_before_the_limiter_was_named_count_what_they_cost_once_another_client_names_it(
    settings, org, redis_conn
):
    """A short run's calls all go out while the limiter is unknown (each reserving the most a call may
    cost); once a later client's calls name it, the short run's client says what the API charged it,
    not the cautious count (CI: 1,610 points counted for 512 charged)."""
    with SimulatorServer(org, TEST_API_KEY, points_per_minute=100_000, endpoint_costs=COSTS) as server:
        point_at(settings, server)
        first = WherebyClient.from_settings()
        rooms = next(first.iter_room_pages()).items
        for room in rooms[:2]:
            list(first.iter_room_sessions(room["roomName"]))
        assert get_budget().shape() == "unknown", "a few quick calls do not name the limiter"
        charged = sum(record.points for record in server.request_log)
        assert first.stats.snapshot()["points_estimated"] == first.stats.points  # and say so
        find_the_limiter(WherebyClient.from_settings(), get_budget())
        assert first.stats.points == charged
        assert first.stats.snapshot()["points_estimated"] == 0
        assert first.stats.reserved > charged  # what the budget reserved meanwhile, apart


def test_a_cost_is_learned_from_calls_sent_right_after_each_other_not_paced_apart(settings, org, redis_conn):
    """A call that learns a cost waits only for the rolling minute: paced by a small budget (a rooms
    call every 5 s), each gap would hold about 25 of the product's points and the cost would read
    10; sent right after the previous answer, the falls are the cost."""
    with SimulatorServer(
        org, TEST_API_KEY, points_per_minute=100_000, endpoint_costs=COSTS, background_points_per_minute=300
    ) as server:
        point_at(settings, server)
        client = WherebyClient.from_settings()
        budget = get_budget()
        find_the_limiter(client, budget)
        server.reset_counters()
        point_at(settings, server, RATE_BUDGET_POINTS_PER_MINUTE=48)  # 0.8 points a second
        budget = get_budget()
        calls = 0
        while budget.sends_alone("/insights/rooms") and calls < 8:
            next(client.iter_room_pages())
            calls += 1
        assert budget.points_for("/insights/rooms") == COSTS["/insights/rooms"]
        assert calls <= 6
        # The minute's cap still holds: what the calls reserved never passed the budget.
        assert sum(record.points for record in server.request_log) <= 48


def test_a_second_process_reserves_the_learned_cost_from_its_first_call(settings, org, redis_conn):
    """Costs live in Redis: another process reserves 3 points for a participants call before making one."""
    from insights_app.whereby.budget import shared

    with SimulatorServer(org, TEST_API_KEY, points_per_minute=100_000, endpoint_costs=COSTS) as server:
        point_at(settings, server)
        client = WherebyClient.from_settings()
        find_the_limiter(client, get_budget())
        walk(client, details=False)
        shared._books.clear()  # what a fresh process starts with
        assert get_budget().points_for("/insights/participants") == 3


def test_the_busiest_rolling_minute_stays_within_the_budget_with_dear_calls():
    """A bucket alone would let a minute hold budget + one call; the spend log caps it at the budget."""
    clock = [0.0]

    def sleep(seconds):
        clock[0] += seconds

    budget = LocalBudget(50, clock=lambda: clock[0], sleep=sleep)
    spends = []
    for index in range(400):
        points = 5 if index % 3 == 0 else 2
        budget.acquire(points)
        spends.append((clock[0], points))
    busiest = max(sum(p for t, p in spends if start <= t < start + 60) for start, _ in spends)
    assert busiest <= 50
    total_time = spends[-1][0]
    used = sum(p for _t, p in spends) / (total_time / 60)
    assert used >= 0.9 * 50, f"{used:.1f} points/minute of 50"


def test_a_call_dearer_than_reserved_is_settled_in_the_shared_budget(redis_conn):
    """Points learned after the call are charged to the shared log, so every process sees them."""
    first = RedisBudget(redis_conn, "settle-test", 600)
    second = RedisBudget(redis_conn, "settle-test", 600)
    first.acquire(1)
    first.settle(4)
    assert second.spent_last_minute() == 5


def test_a_worker_shares_its_costs_again_after_redis_lost_them(settings, org, redis_conn, monkeypatch):
    """Redis keeps nothing on disk: after a restart, a living worker writes back what it learned."""
    from insights_app.whereby.budget import shared

    # A process re-reads the shared costs every 2 s; here at every call, so one walk shows it.
    monkeypatch.setattr(shared, "_LEARNED_CACHE_SECONDS", 0.0)
    with SimulatorServer(org, TEST_API_KEY, points_per_minute=100_000, endpoint_costs=COSTS) as server:
        point_at(settings, server)
        for _ in range(2):  # the rooms listing, a sync's first call, is learned from the second sync on
            walk(WherebyClient.from_settings())
        assert get_budget().shared_costs() == COSTS
        redis_conn.flushdb()  # what a Redis restart does; this process's cost book lives on
        walk(WherebyClient.from_settings())
        assert get_budget().shared_costs() == COSTS


def test_time_lost_waiting_is_caught_up_but_a_run_never_outpaces_the_budget():
    """At 600 points a minute (10 a second): half a second spent on a call sent alone is made up by
    the calls right after it (the bucket holds a second's worth); from a new bucket the run never
    spends more than the budget's rate plus one call, and no stretch holds more than a second's
    worth beyond the rate."""
    clock = [0.0]
    taken: list[float] = []

    def sleep(seconds):
        clock[0] += seconds

    budget = LocalBudget(600, clock=lambda: clock[0], sleep=sleep)
    budget.acquire()  # a new bucket holds one call's worth: no head start
    taken.append(clock[0])
    clock[0] += 0.5  # an alone call's answer: nothing else was sent meanwhile
    for _ in range(5):
        assert budget.acquire() == 0.0  # the half second's five points are spent at once
        taken.append(clock[0])
    for _ in range(40):
        budget.acquire()
        taken.append(clock[0])

    assert clock[0] == pytest.approx(4.5)  # 46 points at 10 a second, one of them at the start
    for moment in taken:
        assert sum(1 for t in taken if t <= moment) <= 1 + 10 * moment + 1e-6
    for start in taken:
        for end in taken:
            if end >= start:
                assert sum(1 for t in taken if start <= t <= end) <= 10 + 10 * (end - start) + 1e-6
