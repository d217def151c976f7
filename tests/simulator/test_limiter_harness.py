"""The limiter harness (tests.helpers.limiter_harness) measures a real sync from the simulator's ledger."""

from __future__ import annotations

import pytest

from insights_app.models import Participant, RoomSession
from tests.helpers.limiter_harness import Scenario, measure_sync

pytestmark = pytest.mark.django_db(transaction=True)

TINY = {"seed": 5, "rooms": 4, "sessions_per_room": 3, "participants_per_session": 2, "days": 10}
COSTS = {"rooms": 5, "room-sessions": 3, "participants": 2, "participant": 4}


def test_an_in_process_sync_is_measured_from_the_ledger(redis_url):
    """A sync that finishes: every point it spent is ours in the ledger, and the true costs are reported."""
    scenario = Scenario(
        limiter="sliding",
        points_per_minute=6000,
        costs=COSTS,
        background_points_per_minute=600,
        background_pattern="bursty",
        org=TINY,
        seconds=60,
    )
    result = measure_sync(scenario)
    assert (result.finished, result.status) == (True, "succeeded")
    assert RoomSession.objects.count() == 12 and Participant.objects.count() == 24
    details = Participant.objects.count()
    # One rooms page, a sessions page per room, a participants page per session, a detail call each.
    assert result.points == 5 + 3 * 4 + 2 * 12 + 4 * details
    assert result.busiest == result.points, "a run this short fits in one window"
    assert result.share == 3000 and result.pace == result.points / 3000
    assert result.throttled == 0 and result.stopped_within is None
    assert result.true_costs == {
        "/insights/rooms": 5,
        "/insights/room-sessions": 3,
        "/insights/participants": 2,
        "/insights/participant": 4,
    }
    # What the app believes is reported beside the truth; a short run under a sliding window may learn
    # nothing yet, and what it has learned is never below the true cost (docs/budget.md).
    assert set(result.learned_costs) <= set(result.true_costs)
    assert all(result.learned_costs[e] >= result.true_costs[e] for e in result.learned_costs)


def test_a_run_cut_short_is_cancelled_and_says_how_fast_it_stopped(redis_url):
    """Against a tiny limit the run is cancelled after ``seconds``; the harness says how fast it stopped."""
    scenario = Scenario(
        points_per_minute=20,
        org=TINY,
        seconds=4,
        # Told a budget 100 times too big, and no Remaining to warn it: the API's limit holds it.
        settings={"PLAN_POINTS_PER_MINUTE": 2000, "RATE_BUDGET_POINTS_PER_MINUTE": 2000},
        rate_headers="missing",
        rate_header_share=1.0,
    )
    result = measure_sync(scenario)
    assert not result.finished and result.status == "cancelled"
    assert result.stopped_within is not None and result.stopped_within < 60
    assert 0 < result.busiest <= 20  # the simulator never lets more through
    assert result.share == 2000, "the share is the budget the app was given"


def test_a_sync_fanned_out_to_worker_processes_is_measured(redis_url):
    """With ``workers`` the run is fanned out to real rqworker processes sharing the Redis budget."""
    result = measure_sync(Scenario(limiter="bucket", points_per_minute=6000, org=TINY, workers=2, seconds=90))
    assert (result.finished, result.status) == (True, "succeeded")
    assert Participant.objects.count() == 24
    assert result.points == 1 + 4 + 12 + 24


def test_each_measurement_starts_from_an_empty_database_and_budget(redis_url):
    """Two calls in one test (as hypothesis examples are) measure the same work: nothing carried over."""
    scenario = Scenario(points_per_minute=6000, org=TINY, seconds=60)
    first, second = measure_sync(scenario), measure_sync(scenario)
    assert first.points == second.points == 1 + 4 + 12 + 24
