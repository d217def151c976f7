"""The simulator's limiter shapes (fixed, sliding, bucket), the product's spend patterns and the ledger.

The limiter reads ``time.monotonic()`` through ``ratelimit.time``; these tests replace it with a clock
they move by hand, so every figure is exact and no test waits. The app is not involved.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import requests

from insights_app.simulator import ratelimit
from insights_app.simulator.ledger import OURS, PRODUCT
from insights_app.simulator.limiters import LIMITERS, make_shape
from tests.helpers import TEST_API_KEY

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
EPOCH = 1_800_000_000.0
ORG = {"seed": 3, "rooms": 2, "sessions_per_room": 1, "participants_per_session": 1, "days": 1}


@pytest.fixture
def clock(monkeypatch) -> list[float]:
    """The limiter's clock, moved by hand: ``clock[0] += 1.5``."""
    now = [1000.0]
    monkeypatch.setattr(
        ratelimit, "time", SimpleNamespace(monotonic=lambda: now[0], time=lambda: EPOCH + now[0])
    )
    return now


def rooms(server, headers=AUTH) -> requests.Response:
    return requests.get(server.base_url + "/insights/rooms", headers=headers, timeout=10)


def remaining(response: requests.Response) -> int:
    return int(response.headers["X-RateLimit-Remaining"])


# -- the shapes themselves ----------------------------------------------------------------------------


def test_a_fixed_window_resets_all_at_once():
    shape = make_shape("fixed", 10, 60)
    assert shape.try_spend(0.0, 6) == 0.0
    assert shape.remaining(59.0) == 4
    assert shape.try_spend(59.0, 5) == pytest.approx(1.0)  # refused until the window ends at 60
    assert shape.remaining(60.0) == 10


def test_a_sliding_window_frees_each_spend_when_it_is_a_window_old():
    shape = make_shape("sliding", 10, 60)
    assert shape.try_spend(0.0, 4) == 0.0
    assert shape.try_spend(30.0, 6) == 0.0
    assert shape.remaining(59.0) == 0
    # 3 more points fit once the 4 spent at 0 have left the window, at 60 s; not at 59.
    assert shape.try_spend(59.0, 3) == pytest.approx(1.0)
    assert shape.remaining(60.0) == 4  # the 6 spent at 30 still count
    assert shape.try_spend(60.0, 5) == pytest.approx(30.0)  # they leave at 90
    assert shape.full_in(60.0) == pytest.approx(30.0)


def test_a_token_bucket_refills_at_the_limit_per_window():
    shape = make_shape("bucket", 60, 60)  # one point a second
    assert shape.try_spend(0.0, 60) == 0.0
    assert shape.remaining(0.0) == 0
    assert shape.remaining(2.5) == 2
    assert shape.try_spend(2.5, 5) == pytest.approx(2.5)  # 2.5 points short at one a second
    assert shape.remaining(1000.0) == 60  # never above its capacity
    with pytest.raises(ValueError, match="limiter must be one of fixed, sliding, bucket"):
        make_shape("leaky", 1, 1)


# -- over HTTP ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limiter", "after_idle", "ms_left"),
    [
        # 12 points per 60 s; 8 spent at t=0, 4 at t=30; then the client idles 10 s (t=40).
        ("fixed", 0, 20_000),  # nothing back until the window ends at t=60
        ("sliding", 0, 20_000),  # nothing back until the t=0 spends are 60 s old
        ("bucket", 2, 5_000),  # 0.2 points/s: 2 back after 10 s, each further point 5 s later
    ],
)
def test_every_answer_reports_the_limiters_remaining_and_a_429_its_true_wait(
    simulator_factory, clock, limiter, after_idle, ms_left
):
    """Limit and Remaining as the model computes them; a 429's Retry-After and msLeft are its real wait."""
    server = simulator_factory(**ORG, points_per_minute=12, limiter=limiter)
    assert server.limiter == limiter
    for _ in range(8):
        assert rooms(server).status_code == 200
    clock[0] += 30
    answers = [rooms(server) for _ in range(4)]
    assert [a.headers["X-RateLimit-Limit"] for a in answers] == ["12"] * 4
    expected = [3, 2, 1, 0] if limiter != "bucket" else [9, 8, 7, 6]  # the bucket got 6 back in 30 s
    assert [remaining(a) for a in answers] == expected
    if limiter == "bucket":  # spend the bucket's refill too
        for _ in range(6):
            rooms(server)
    clock[0] += 10
    idle = rooms(server, headers={})  # a 401 costs nothing and still reports the budget
    assert idle.status_code == 401 and remaining(idle) == after_idle
    for _ in range(after_idle):
        assert rooms(server).status_code == 200
    refused = rooms(server)
    assert refused.status_code == 429
    assert refused.json()["data"]["msLeft"] == ms_left
    assert refused.headers["Retry-After"] == str(math.ceil(ms_left / 1000))
    clock[0] += ms_left / 1000 - 0.01
    assert rooms(server).status_code == 429, "not a moment before the wait it announced"
    clock[0] += 0.01
    assert rooms(server).status_code == 200, "and served once it has passed"


@pytest.mark.parametrize("limiter", LIMITERS)
def test_the_products_spend_goes_through_the_same_limiter(simulator_factory, clock, limiter):
    """The product's points lower our Remaining and are refused when the budget is spent, in every shape."""
    server = simulator_factory(
        **ORG,
        points_per_minute=60,
        limiter=limiter,
        background_points_per_minute=120,
        background_pattern="even",
    )
    first = rooms(server)
    clock[0] += 10  # the product spends 20 points meanwhile
    second = rooms(server)
    drop = remaining(first) - remaining(second)
    # Fixed and sliding: our 1 point plus the product's 20. The bucket got 10 back in those 10 s.
    assert drop == (11 if limiter == "bucket" else 21)
    clock[0] += 80  # the bucket too is dry by then: it nets one point a second less
    rooms(server)
    assert server.background_refused > 0, "120 points a minute do not fit in 60"


def test_bursty_product_spends_in_bursts_at_the_same_mean(clock):
    """Bursty calls come in bursts: most seconds quiet, a few very busy, about the same mean as "even"."""
    limiter = ratelimit.OrganisationLimiter(
        None, background_points_per_minute=600, background_pattern="bursty", seed=4
    )
    limiter.charge(0)
    per_second = []
    for _second in range(600):
        before = limiter.background_spent
        clock[0] += 1.0
        limiter.charge(0)
        per_second.append(limiter.background_spent - before)
    assert 4500 <= sum(per_second) <= 7500  # 10 a second on average
    assert per_second.count(0) > 400, "quiet most of the time"
    assert max(per_second) >= 40, "a burst holds many seconds' worth"


def test_the_ledger_tells_our_points_from_the_products_with_their_moments(simulator_factory, clock):
    """Each charged point is in the ledger with its moment and caller; refusals are counted by caller."""
    server = simulator_factory(
        **ORG,
        points_per_minute=60,
        endpoint_costs={"rooms": 3},
        background_points_per_minute=6,
        background_pattern="even",
    )
    start = clock[0]
    rooms(server)
    clock[0] += 5
    rooms(server)
    clock[0] += 100  # the product called at 10, 20, ..., 100 s: its 60 s call opened a new window
    for _ in range(19):  # 5 of the window's 60 points are the product's: 18 of our calls fit
        rooms(server)
    ledger = server.ledger
    ours = ledger.spends(OURS)
    assert [(s.time - start, s.points) for s in ours] == [(0, 3), (5, 3)] + [(105, 3)] * 18
    assert ledger.refused[OURS] == 1
    product = ledger.spends(PRODUCT)
    assert [s.time - start for s in product] == pytest.approx([10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
    assert ledger.busiest(OURS) == (start + 105, 54)
    assert ledger.busiest(PRODUCT) == (pytest.approx(start + 10), 6)
    assert ledger.busiest(OURS, until=start + 50) == (start, 6)
    assert ledger.busiest(PRODUCT, seconds=20, since=start + 60) == (pytest.approx(start + 60), 2)
    assert ledger.total(OURS, since=start + 1) == 57
    server.reset_counters()
    assert server.ledger.spends() == []


def test_costs_from_one_to_ten_points_only():
    with pytest.raises(ValueError, match="from 1 to 10"):
        ratelimit.check_costs({"rooms": 11})
    assert ratelimit.check_costs({"rooms": 10, "/insights/participant": 1}) == {
        "/insights/rooms": 10,
        "/insights/participant": 1,
    }


def test_a_long_serving_ledger_keeps_only_recent_spends():
    """With ``keep_seconds`` (the command sets an hour) old spends are forgotten; recent ones stay exact."""
    from insights_app.simulator.ledger import Ledger

    ledger = Ledger(keep_seconds=100)
    for second in range(5000):
        ledger.record(float(second), OURS, 2)
    kept = ledger.spends(OURS)
    assert len(kept) <= 1100 and kept[-1].time == 4999
    assert kept[0].time >= 4999 - 1100 and ledger.busiest(OURS, 60)[1] == 120
    assert len(Ledger().spends()) == 0
    everything = Ledger()
    for second in range(5000):
        everything.record(float(second), OURS, 1)
    assert len(everything.spends()) == 5000, "kept whole unless asked"
