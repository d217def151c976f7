"""The simulator's rate limit and injected faults, as a client sees them over real HTTP."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import pytest
import requests

from insights_app.simulator import FaultConfig
from tests.helpers import TEST_API_KEY, wait_for

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
THROTTLE_ERROR = "Rate limit active for throttle key: organization:1"
SMALL = {"seed": 1, "rooms": 25, "sessions_per_room": 2, "participants_per_session": 3}


def get(server, path: str = "/insights/rooms", **params) -> requests.Response:
    """One authenticated GET against the simulator."""
    return requests.get(server.base_url + path, params=params, headers=AUTH, timeout=10)


def a_participant(server) -> dict:
    """Some participant of the organisation."""
    org = server.organisation
    room = next(r for r in org.room_items() if r["totalSessions"])
    session = org.session_items(room["roomName"])[0]
    return org.participant_items(session["roomSessionId"])[0]


def test_every_response_carries_rate_limit_headers(simulator_factory):
    """200, 400, 401, 404, 429 and 5xx answers all carry X-RateLimit-Limit/Remaining/Reset."""
    server = simulator_factory(points_per_minute=50, **SMALL)
    answers = [
        get(server),
        get(server, limit=0),
        requests.get(server.base_url + "/insights/rooms", timeout=10),
        get(server, "/insights/elsewhere"),
    ]
    server.faults.fail_first_n = 1
    answers.append(get(server))
    server.faults.force_throttle = 1
    answers.append(get(server))
    assert [a.status_code for a in answers] == [200, 400, 401, 404, 500, 429]
    for answer in answers:
        assert answer.headers["X-RateLimit-Limit"] == "50"
        assert int(answer.headers["X-RateLimit-Remaining"]) >= 0
        assert parsedate_to_datetime(answer.headers["X-RateLimit-Reset"]).tzinfo is not None


def test_budget_runs_out_then_429_with_hints(simulator_factory):
    """Each GET costs a point; over budget a 429 says how long to wait, in all three ways."""
    server = simulator_factory(points_per_minute=3, **SMALL)
    remaining = [int(get(server).headers["X-RateLimit-Remaining"]) for _ in range(3)]
    assert remaining == [2, 1, 0]
    throttled = get(server)
    assert throttled.status_code == 429
    assert throttled.json()["error"] == THROTTLE_ERROR
    ms_left = throttled.json()["data"]["msLeft"]
    assert 0 < ms_left <= 60_000
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60
    assert throttled.headers["X-RateLimit-Remaining"] == "0"
    assert throttled.headers["X-RateLimit-Limit"] == "3"
    assert "X-RateLimit-Reset" in throttled.headers
    assert server.counters["/insights/rooms"] == 4


def test_budget_comes_back_after_the_window(simulator_factory):
    """A new window restores the budget (a short window so the test need not wait a minute)."""
    server = simulator_factory(points_per_minute=2, **SMALL)
    server.window_seconds = 0.5
    assert [get(server).status_code for _ in range(3)] == [200, 200, 429]
    wait_for(lambda: get(server).status_code == 200, timeout=10, interval=0.2)
    server.points_per_minute = None
    assert all(get(server).status_code == 200 for _ in range(5))


@pytest.mark.parametrize(
    ("hints", "retry_after", "ms_left", "reset"),
    [
        ("all", True, True, True),
        ("retry-after", True, False, False),
        ("ms-left", False, True, False),
        ("reset", False, False, True),
    ],
)
def test_throttle_hint_modes(simulator_factory, hints, retry_after, ms_left, reset):
    """FaultConfig.throttle_hints chooses which wait hints a 429 carries."""
    server = simulator_factory(
        faults=FaultConfig(force_throttle=1, throttle_hints=hints, throttle_ms=2500), **SMALL
    )
    response = get(server)
    assert response.status_code == 429
    body = response.json()
    assert body["error"] == THROTTLE_ERROR
    assert ("Retry-After" in response.headers) is retry_after
    assert ("data" in body) is ms_left
    assert ("X-RateLimit-Reset" in response.headers) is reset
    if retry_after:
        assert response.headers["Retry-After"] == "3"
    if ms_left:
        assert body["data"]["msLeft"] == 2500
    assert "X-RateLimit-Limit" in response.headers and "X-RateLimit-Remaining" in response.headers
    assert get(server).status_code == 200


def test_force_throttle_counts_down(simulator_factory):
    """force_throttle=N answers the next N requests with 429, then serves again."""
    server = simulator_factory(faults=FaultConfig(force_throttle=3), **SMALL)
    assert [get(server).status_code for _ in range(5)] == [429, 429, 429, 200, 200]
    assert server.faults.force_throttle == 0
    assert server.counters["/insights/rooms"] == 5


def test_fail_first_n_then_recover(simulator_factory):
    """fail_first_n=2: two 500s with a JSON body, then normal answers."""
    server = simulator_factory(faults=FaultConfig(fail_first_n=2), **SMALL)
    answers = [get(server) for _ in range(3)]
    assert [a.status_code for a in answers] == [500, 500, 200]
    assert answers[0].json() == {"error": "Internal Server Error"}


def test_error_rate_is_seeded_and_uses_the_chosen_status(simulator_factory):
    """error_rate fails a share of requests with error_status, the same ones for the same seed."""
    statuses = []
    for _ in range(2):
        server = simulator_factory(faults=FaultConfig(error_rate=0.5, error_status=503, seed=11), **SMALL)
        statuses.append([get(server).status_code for _ in range(30)])
    assert statuses[0] == statuses[1]
    assert set(statuses[0]) == {200, 503}


def test_html_error_page_like_a_proxy(simulator_factory):
    """html_error_rate answers a 502 HTML page."""
    server = simulator_factory(faults=FaultConfig(html_error_rate=1.0), **SMALL)
    response = get(server)
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.startswith("<html>")
    with pytest.raises(ValueError):
        response.json()


def test_malformed_json(simulator_factory):
    """malformed_json_rate answers 200 with a body that is not JSON."""
    server = simulator_factory(faults=FaultConfig(malformed_json_rate=1.0), **SMALL)
    response = get(server)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    with pytest.raises(ValueError):
        response.json()


def test_truncated_body(simulator_factory):
    """truncated_rate sends correct-looking headers and half the body, then closes."""
    server = simulator_factory(faults=FaultConfig(truncated_rate=1.0), **SMALL)
    with pytest.raises(requests.exceptions.RequestException):
        get(server)
    with requests.get(server.base_url + "/insights/rooms", headers=AUTH, stream=True, timeout=10) as response:
        assert response.status_code == 200
        declared = int(response.headers["Content-Length"])
        received = b""
        with pytest.raises(requests.exceptions.RequestException):
            for chunk in response.iter_content(1024):
                received += chunk
        assert 0 < len(received) < declared


def test_dropped_connection(simulator_factory):
    """drop_connection_rate closes the socket without any response; the log records status 0."""
    server = simulator_factory(faults=FaultConfig(drop_connection_rate=1.0), **SMALL)
    with pytest.raises(requests.exceptions.ConnectionError):
        get(server)
    assert server.request_log[-1].status == 0
    assert server.counters["/insights/rooms"] == 1


def test_latency(simulator_factory):
    """latency_ms delays answers: a client with a shorter timeout gives up."""
    server = simulator_factory(faults=FaultConfig(latency_ms=1500), **SMALL)
    with pytest.raises(requests.exceptions.Timeout):
        requests.get(server.base_url + "/insights/rooms", headers=AUTH, timeout=0.3)
    server.faults.latency_ms = 0
    assert get(server).status_code == 200


def test_repeat_cursor(simulator_factory):
    """repeat_cursor: a page answers with the same cursor it was asked with (a paging loop)."""
    server = simulator_factory(**SMALL)
    cursor = get(server, limit=5).json()["cursor"]
    server.faults.repeat_cursor = True
    page = get(server, limit=5, cursor=cursor).json()
    assert page["cursor"] == cursor and len(page["results"]) == 5
    server.faults.repeat_cursor = False
    assert get(server, limit=5, cursor=cursor).json()["cursor"] != cursor


def test_only_paths_restricts_faults_and_faults_switch_live(simulator_factory):
    """only_paths limits faults to some endpoints; faults can be switched on and off while running."""
    server = simulator_factory(
        faults=FaultConfig(error_rate=1.0, only_paths=("/insights/participant",)), **SMALL
    )
    participant = a_participant(server)
    assert get(server).status_code == 200
    detail = get(
        server,
        "/insights/participant",
        roomSessionId=participant["roomSessionId"],
        participantId=participant["participantId"],
    )
    assert detail.status_code == 500
    server.faults.error_rate = 0.0
    detail = get(
        server,
        "/insights/participant",
        roomSessionId=participant["roomSessionId"],
        participantId=participant["participantId"],
    )
    assert detail.status_code == 200
    server.faults = FaultConfig(force_throttle=1)
    assert get(server).status_code == 429


def test_fault_config_refuses_nonsense():
    """Bad fault values fail loudly instead of silently disabling the fault."""
    for bad in [{"error_rate": 2}, {"error_status": 404}, {"throttle_hints": "loud"}, {"latency_ms": -1}]:
        with pytest.raises(ValueError):
            FaultConfig(**bad)


def test_faults_are_off_by_default(simulator_factory):
    """Without faults every request is served normally."""
    server = simulator_factory(**SMALL)
    started = time.monotonic()
    assert all(get(server).status_code == 200 for _ in range(20))
    assert server.request_log[0].time >= started
