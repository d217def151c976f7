"""The budget names the API's limiter from what the rate headers do, assumes the case that can never
overspend until it has, and one answer with lying headers moves neither the plan nor the costs."""

from __future__ import annotations

import math

import pytest

from insights_app.simulator.limiters import SlidingWindow
from insights_app.whereby.budget.current import budget_snapshot, get_budget
from insights_app.whereby.budget.limiter_shape import Answer, ShapeWatch
from insights_app.whereby.client import WherebyClient
from tests.helpers import TEST_API_KEY
from tests.helpers.limiter import find_the_limiter

COSTS = {"rooms": 4, "room-sessions": 3, "participants": 2, "participant": 1}


def client_for(settings, server) -> WherebyClient:
    settings.WHEREBY_INSIGHTS = {"API_KEY": TEST_API_KEY, "BASE_URL": server.base_url}
    return WherebyClient.from_settings()


@pytest.mark.parametrize(("limiter", "shape"), [("fixed", "fixed"), ("bucket", "bucket")])
def test_the_limiter_is_named_and_a_call_then_reserves_what_it_costs(
    settings, simulator_factory, redis_conn, limiter, shape
):
    server = simulator_factory(
        seed=2, rooms=3, sessions_per_room=1, participants_per_session=1, points_per_minute=600,
        limiter=limiter, endpoint_costs=COSTS,
    )  # fmt: skip
    client = client_for(settings, server)
    budget = get_budget()
    assert budget.shape() == "unknown"
    assert budget.points_for("/insights/rooms") == 10  # nothing known: the most a call may cost
    assert find_the_limiter(client, budget) == shape
    for _ in range(5):  # a few more answers: the cost learned, never below the truth
        next(client.iter_room_pages())
    assert get_budget().points_for("/insights/rooms") == 4
    snapshot = budget_snapshot()
    assert snapshot["limiter"] == shape
    assert snapshot["cost_sources"]["rooms"] == "learned"


def test_while_the_limiter_is_unknown_the_budget_says_so_and_counts_the_most(
    settings, simulator_factory, redis_conn
):
    server = simulator_factory(
        seed=2, rooms=3, sessions_per_room=1, participants_per_session=1, points_per_minute=600,
        limiter="sliding", endpoint_costs=COSTS, background_points_per_minute=120,
    )  # fmt: skip
    client = client_for(settings, server)
    for _ in range(3):
        next(client.iter_room_pages())
    budget = get_budget()
    assert budget.shape() == "unknown"  # a sliding window's first minute looks like a fixed window's
    # Each call counted at most what Limit - Remaining proved it could cost, never less than it cost.
    assert client.stats.points >= sum(r.points for r in server.request_log)
    assert budget.points_for("/insights/rooms") >= 4
    snapshot = budget_snapshot()
    assert snapshot["cost_sources"]["rooms"] == "assumed"


def test_one_lying_answer_moves_neither_the_plan_nor_the_costs(redis_conn):
    from insights_app.whereby.budget.shared import RedisBudget

    budget = RedisBudget(redis_conn, "liar-test")
    remaining = 1000
    answers = [("1000", 6), ("1", 3), ("1000", 3), ("1000000000000000000", 3), ("1000", 3)]
    for limit, fall in answers:  # the second and fourth answers lie about the Limit
        remaining -= fall
        budget.acquire(budget.points_for("/insights/rooms"))
        budget.sending("/insights/rooms")
        budget.answered(
            "/insights/rooms", 200, {"X-RateLimit-Limit": limit, "X-RateLimit-Remaining": str(remaining)}
        )
    assert budget.figures().plan == 1000
    budget.acquire(1)
    budget.sending("/insights/rooms")
    budget.answered("/insights/rooms", 200, {"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "1000"})
    # Limit - Remaining proves a call cost at most that much; the 0 this answer claims is not believed.
    assert budget.readings.ceiling("/insights/rooms") >= 3
    assert budget.readings.rejected_count == 3
    reasons = " ".join(budget.readings.rejected)
    assert "Limit 1 " in reasons and "Limit 1e+18" in reasons and "Remaining 1000 of 1000" in reasons


def test_one_answer_lying_low_does_not_stop_every_process_but_two_low_ones_do(redis_conn):
    """Remaining stays a feedback signal (pause when the organisation runs low), read from the second
    lowest of the last three answers: a single Remaining of 0 among honest ones pauses nobody."""
    from insights_app.errors import Interrupted
    from insights_app.whereby.budget.shared import RedisBudget

    budget = RedisBudget(redis_conn, "low-test", 600_000)

    def stop_if_waiting_long():  # a wait of a few ms passes; a pause of many seconds raises Interrupted
        asked = iter(range(4))
        return lambda: next(asked, None) is None

    def answer(remaining: int) -> None:
        budget.acquire(1, interrupt=stop_if_waiting_long())
        budget.sending("/insights/rooms")
        headers = {
            "X-RateLimit-Limit": "1000",
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": "30",
        }
        budget.answered("/insights/rooms", 200, headers)

    for remaining in (900, 890, 0, 880):  # the third answer lies
        answer(remaining)
    answer(870)  # not paused: this call went out at once
    for remaining in (8, 5):  # the organisation really runs low
        answer(remaining)
    with pytest.raises(Interrupted):
        budget.acquire(1, interrupt=stop_if_waiting_long())


def test_a_fixed_window_answered_once_a_second_is_never_taken_for_a_bucket():
    """A small budget sends a call every second or two: across each reset of a fixed window, the answers before
    it stay among the last three for two more answers. Those are one rise, not three (read as rises
    less than 40 s apart, the window was named a token bucket and every cost was read high: a run
    charged 52 points said 163)."""
    watch = ShapeWatch()
    limit, remaining, shapes = 1000.0, 1000.0, set()
    window = -1
    for call in range(100):
        sent = 1.5 * call
        if sent // 60 != window:
            window, remaining = int(sent // 60), limit  # the window resets
        remaining -= 1  # our call
        shapes.add(watch.note(Answer(sent, sent + 0.1, remaining, 60.0 * (window + 1)), limit))
    assert shapes <= {"unknown", "fixed"}
    assert watch.shape == "fixed"


def test_answers_since_an_instant_are_counted_over_the_kept_answers_whatever_their_order():
    """The count behind the bucket test: every kept answer at or after the instant, neighbours
    swapped by threads included, the oldest dropped once more than the watch keeps have come."""
    import random

    from insights_app.whereby.budget.limiter_shape import _KEPT_ANSWERS

    rng = random.Random(7)
    watch = ShapeWatch()
    kept: list[float] = []
    answered = 1000.0
    for number in range(3 * _KEPT_ANSWERS):
        answered += rng.choice([0.001, 0.01, 0.3])
        at = answered - rng.choice([0.0, 0.0, 0.002])  # a thread's answer a little behind its neighbour
        watch.note(Answer(sent=at - 0.01, answered=at, remaining=1e6 - number, reset=None), 1e6)
        kept = [*kept, at][-_KEPT_ANSWERS:]
        for back in (0.0, 0.5, 5.0, 50.0):
            instant = at - back
            assert watch._answered_since(instant) == sum(1 for t in kept if t >= instant)


def test_a_sliding_window_whose_remaining_rose_once_is_never_taken_for_a_fixed_window():
    """A sliding window's Remaining rises once (a pause after a dear first second, which then aged
    out) and only falls after it, our calls quickening: without rises 40 s apart, the span of 90 s
    named it a fixed window, and its costs were read from falls our old points blurred (3 for a true
    7 in bench_budget, 1.67 times the share spent). Its Reset moves on with every call, as no fixed
    window's does."""
    window, watch, shapes = SlidingWindow(6000, 60.0), ShapeWatch(), set()
    calls = [0.2 * i for i in range(5)] + [1 + 0.5 * i for i in range(118)]
    calls += [61.5 + 0.1 * i for i in range(600)]
    product = 0.03
    for sent in calls:
        answered = sent + 0.1
        while product <= answered:  # the product calls every 60 ms
            window.try_spend(product, 1)
            product += 0.06
        assert window.try_spend(answered, 10 if sent < 1 else 7) == 0.0
        remaining = window.remaining(answered)
        reset = math.ceil(answered + window.full_in(answered))
        shapes.add(watch.note(Answer(sent, answered, remaining, reset), 6000))
    assert "fixed" not in shapes
