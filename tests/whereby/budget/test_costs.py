"""The cost book reads each endpoint's cost from how X-RateLimit-Remaining falls while the customer's
product spends from the same budget at random moments, and never reads a cost below the truth."""

from __future__ import annotations

import random

import pytest

from insights_app.whereby.budget.costs import CostBook
from insights_app.whereby.rate_headers import RateHeaders

TRUE_COSTS = (("/insights/room-sessions", 3), ("/insights/participants", 2))


def learned_costs(period: float, product_every: float, *, random_product: bool, calls: int = 40) -> dict:
    """Feed the book the headers of ``calls`` answers, one every ``period`` seconds, ours alone in flight,
    while the product spends one point every ``product_every`` seconds (evenly or at random)."""
    rng = random.Random(11)
    book = CostBook()
    remaining, now, next_product = 100_000.0, 0.0, 0.7
    for index in range(calls):
        endpoint, cost = TRUE_COSTS[index % len(TRUE_COSTS)]
        now += period
        while next_product <= now:
            remaining -= 1
            next_product += rng.expovariate(1 / product_every) if random_product else product_every
        remaining -= cost
        book.call_sent()
        headers = {
            "X-RateLimit-Limit": "100000",
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": "r",
        }
        book.read_fall(endpoint, RateHeaders.read(headers), True, now=now)
    return {endpoint: book.estimate(endpoint) for endpoint, _cost in TRUE_COSTS}


@pytest.mark.parametrize("period", [0.1, 0.5, 0.8, 1.0, 1.2, 2.0, 3.0])
def test_a_product_spending_at_random_leaves_the_costs_exact(period):
    # Calls evenly spaced, so cost + rate x gap alone cannot tell a cost from the product's spend.
    assert learned_costs(period, 1.5, random_product=True) == dict(TRUE_COSTS)


@pytest.mark.parametrize("period", [0.1, 0.5, 0.8, 1.0, 1.2, 2.0, 3.0])
def test_a_product_spending_evenly_never_makes_a_cost_read_low(period):
    # A cost read low would let a minute's calls take more than the share; read high, less of it.
    learned = learned_costs(period, 1.5, random_product=False)
    assert all(learned[endpoint] >= cost for endpoint, cost in TRUE_COSTS), learned
    if period <= 1.2:  # most gaps hold no call of the product's: the smallest fall is the cost
        assert learned == dict(TRUE_COSTS)


def test_a_product_spending_in_bursts_never_makes_a_cost_read_low():
    """Bursts (a batch job, a class starting) make the falls' spread wide: taken for many small random
    spends, they made a lower cost look likelier (4 for a true 7 in bench_budget, 1.24 times the share
    spent). The smallest fall is never below the cost under a fixed window."""
    rng = random.Random(5)
    true = (("/insights/participants", 4), ("/insights/participant", 7), ("/insights/room-sessions", 1))
    book = CostBook()
    remaining, now = 1_000_000.0, 0.0
    bursts = sorted(rng.uniform(0, 60) for _ in range(6))
    for index in range(300):
        endpoint, cost = true[index % len(true)]
        now += 0.15
        if bursts and bursts[0] <= now:
            remaining -= rng.randint(20, 60)  # a burst fell within this gap
            bursts.pop(0)
        remaining -= cost + (1 if rng.random() < 0.6 else 0)  # and the product's steady calls
        book.call_sent()
        headers = {
            "X-RateLimit-Limit": "1000000",
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": "r",
        }
        book.read_fall(endpoint, RateHeaders.read(headers), True, now=now)
    learned = {endpoint: book.estimate(endpoint) for endpoint, _cost in true}
    assert all(learned[endpoint] >= cost for endpoint, cost in true), learned
