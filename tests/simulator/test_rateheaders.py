"""Rate headers as a careless API sends them (``rate_headers``): missing, nonsense or lying, on a share."""

from __future__ import annotations

import pytest
import requests

from insights_app.simulator import FaultConfig
from insights_app.simulator.rateheaders import HUGE, RATE_HEADERS
from tests.helpers import TEST_API_KEY

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
ORG = {"seed": 3, "rooms": 2, "sessions_per_room": 1, "participants_per_session": 1, "days": 1}


def answers(server, count: int = 40) -> list[requests.Response]:
    return [requests.get(server.base_url + "/insights/rooms", headers=AUTH, timeout=10) for _ in range(count)]


def test_normal_headers_are_the_limiters_truth(simulator_factory):
    server = simulator_factory(**ORG, points_per_minute=1000)
    got = answers(server, 5)
    assert [int(a.headers["X-RateLimit-Remaining"]) for a in got] == [999, 998, 997, 996, 995]
    assert server.rate_headers.spoiled == 0


def test_missing_headers_leave_the_rate_headers_off(simulator_factory):
    server = simulator_factory(**ORG, points_per_minute=1000, rate_headers="missing", rate_header_share=1.0)
    for answer in answers(server, 5):
        assert answer.status_code == 200
        assert not set(RATE_HEADERS) & set(answer.headers)


def test_nonsense_headers_are_not_numbers_a_client_can_use(simulator_factory):
    server = simulator_factory(**ORG, points_per_minute=1000, rate_headers="nonsense", rate_header_share=1.0)
    for answer in answers(server, 20):
        values = [answer.headers["X-RateLimit-Limit"], answer.headers["X-RateLimit-Remaining"]]
        assert not all(value.strip().isdigit() for value in values), values


def test_lying_headers_are_well_formed_but_wrong(simulator_factory):
    server = simulator_factory(**ORG, points_per_minute=1000, rate_headers="lying", rate_header_share=1.0)
    lies = set()
    for number, answer in enumerate(answers(server, 40), start=1):
        limit, left = int(answer.headers["X-RateLimit-Limit"]), int(answer.headers["X-RateLimit-Remaining"])
        assert (limit, left) != (1000, 1000 - number), "every answer lies about one of them"
        lies.add(limit if limit != 1000 else ("remaining", left))
    assert {1, HUGE} <= lies, "a Limit of 1 and of 10**18 both turn up"


def test_a_share_of_answers_is_spoiled_and_the_rest_true(simulator_factory):
    server = simulator_factory(**ORG, points_per_minute=1000, rate_headers="missing", rate_header_share=0.25)
    got = answers(server, 200)
    missing = sum("X-RateLimit-Limit" not in a.headers for a in got)
    assert 25 <= missing <= 75
    assert missing == server.rate_headers.spoiled
    true = [a for a in got if "X-RateLimit-Limit" in a.headers]
    assert all(a.headers["X-RateLimit-Limit"] == "1000" for a in true)


@pytest.mark.parametrize("mode", ["missing", "nonsense", "lying"])
def test_a_429_keeps_its_true_wait_whatever_the_headers(simulator_factory, mode):
    server = simulator_factory(
        **ORG,
        points_per_minute=2,
        rate_headers=mode,
        rate_header_share=1.0,
        faults=FaultConfig(throttle_hints="all"),
    )
    refused = answers(server, 3)[-1]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert 0 < refused.json()["data"]["msLeft"] <= 60_000


def test_bad_modes_and_shares_are_refused(simulator_factory):
    with pytest.raises(ValueError, match="rate_headers must be one of normal, missing, nonsense, lying"):
        simulator_factory(**ORG, rate_headers="wrong")
    with pytest.raises(ValueError, match="rate_header_share must be between 0 and 1"):
        simulator_factory(**ORG, rate_headers="missing", rate_header_share=1.5)
