"""The Whereby client over real HTTP against the simulator: paging, waits, retries, typed errors, secrecy."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time

import pytest

from insights_app.errors import (
    AuthenticationError,
    MalformedResponse,
    PaginationError,
    ServerError,
    TransportError,
)
from insights_app.simulator import FaultConfig
from insights_app.whereby import responses
from insights_app.whereby.budget.current import get_budget
from insights_app.whereby.budget.local import LocalBudget
from insights_app.whereby.budget.shared import RedisBudget, budget_key
from insights_app.whereby.client import WherebyClient
from tests.helpers import ROOT, TEST_API_KEY, worker_env
from tests.helpers.limiter import find_the_limiter


class RecordedSleep:
    """Really sleeps (briefly) and remembers each wait the client chose."""

    def __init__(self, scale: float = 0.0) -> None:
        self.waits: list[float] = []
        self.scale = scale

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds * self.scale)


def make_client(server, *, key: str = TEST_API_KEY, sleep=None, **options) -> WherebyClient:
    defaults = {"backoff_base": 0.01, "backoff_max": 0.02, "max_retries": 3}
    defaults.update(options)
    return WherebyClient(key, server.base_url, sleep=sleep or RecordedSleep(), **defaults)


@pytest.mark.parametrize(("rooms", "pages"), [(60, 1), (150, 2), (25_000, 250)])
def test_pages_through_every_room_exactly_once(simulator_factory, rooms, pages):
    server = simulator_factory(seed=2, rooms=rooms, sessions_per_room=0, participants_per_session=0)
    client = make_client(server)

    names = [room["roomName"] for room in client.iter_rooms()]

    assert len(names) == rooms
    assert set(names) == {r["roomName"] for r in server.organisation.room_items()}
    assert server.counters["/insights/rooms"] == pages
    assert all(record.query.get("limit") == "100" for record in server.request_log)
    assert client.stats.requests == pages


def test_room_filters_are_sent_as_bracketed_parameters_with_the_slash_encoded(simulator_factory):
    server = simulator_factory(seed=2, rooms=30, sessions_per_room=1, participants_per_session=1)
    name = server.organisation.room_items()[3]["roomName"]
    client = make_client(server)

    found = list(client.iter_rooms(room_name_exact=name))
    prefix = list(client.iter_rooms(room_name_starts_with=name[:6]))

    assert [r["roomName"] for r in found] == [name]
    assert name in {r["roomName"] for r in prefix}
    assert server.request_log[0].query == {"roomName[exact]": name, "limit": "100"}
    with pytest.raises(TypeError, match="unknown rooms filter"):
        list(client.iter_rooms(roomname=name))


def test_sessions_participants_and_details_endpoints(simulator):
    org = simulator.organisation
    client = make_client(simulator)
    room = next(r for r in org.room_items() if r["totalSessions"])
    sessions = list(client.iter_room_sessions(room["roomName"]))
    assert sessions == org.session_items(room["roomName"])
    people = list(client.iter_participants(room_session_id=sessions[0]["roomSessionId"]))
    assert people == org.participant_items(sessions[0]["roomSessionId"])
    details = client.get_participant_details(sessions[0]["roomSessionId"], people[0]["participantId"])
    assert details == org.detail_items(sessions[0]["roomSessionId"], people[0]["participantId"])


def test_a_repeated_cursor_stops_with_a_clear_error(simulator_factory):
    server = simulator_factory(seed=2, rooms=250, sessions_per_room=0, participants_per_session=0)
    server.faults = FaultConfig(repeat_cursor=True)
    client = make_client(server)

    with pytest.raises(PaginationError, match="repeated cursor"):
        list(client.iter_rooms())
    assert server.counters["/insights/rooms"] == 2


def test_a_page_cap_stops_an_endless_listing(simulator_factory):
    server = simulator_factory(seed=2, rooms=350, sessions_per_room=0, participants_per_session=0)
    client = make_client(server, max_pages=2)
    with pytest.raises(PaginationError, match="MAX_PAGES"):
        list(client.iter_rooms())


@pytest.mark.parametrize(
    ("hints", "expected_wait"),
    [("retry-after", 2.0), ("ms-left", 1.5), ("reset", None)],
)
def test_429_is_waited_out_as_the_api_says_then_retried(simulator_factory, hints, expected_wait):
    server = simulator_factory(seed=2, rooms=5, sessions_per_room=0, participants_per_session=0)
    server.faults = FaultConfig(force_throttle=1, throttle_hints=hints, throttle_ms=1500)
    sleep = RecordedSleep()
    client = make_client(server, sleep=sleep)

    rooms = list(client.iter_rooms())

    assert len(rooms) == 5
    assert client.stats.throttles == 1
    assert server.counters["/insights/rooms"] == 2
    assert len(sleep.waits) == 1
    if expected_wait is not None:
        assert sleep.waits[0] == pytest.approx(expected_wait, abs=0.01)
    else:
        # X-RateLimit-Reset is an HTTP date with one-second resolution.
        assert 0.0 <= sleep.waits[0] <= 2.5


def test_throttle_waits_are_capped(simulator_factory):
    server = simulator_factory(seed=2, rooms=1, sessions_per_room=0, participants_per_session=0)
    server.faults = FaultConfig(force_throttle=1, throttle_hints="ms-left", throttle_ms=3_600_000)
    sleep = RecordedSleep()
    list(make_client(server, sleep=sleep, max_retry_wait=7.0).iter_rooms())
    assert sleep.waits == [7.0]


def test_server_errors_are_retried_with_backoff_then_surfaced(simulator_factory):
    server = simulator_factory(seed=2, rooms=3, sessions_per_room=0, participants_per_session=0)
    server.faults = FaultConfig(fail_first_n=2)
    client = make_client(server, max_retries=3)
    assert len(list(client.iter_rooms())) == 3
    assert client.stats.retries == 2

    server.faults = FaultConfig(error_rate=1.0, error_status=503)
    server.reset_counters()
    failing = make_client(server, max_retries=3)
    with pytest.raises(ServerError, match="503") as caught:
        list(failing.iter_rooms())
    assert caught.value.status == 503
    assert server.counters["/insights/rooms"] == 4


def test_a_proxy_html_error_page_is_retried_and_reported_briefly(simulator_factory):
    server = simulator_factory(seed=2, rooms=3, sessions_per_room=0, participants_per_session=0)
    server.faults = FaultConfig(html_error_rate=1.0)
    with pytest.raises(ServerError) as caught:
        list(make_client(server, max_retries=1).iter_rooms())
    assert caught.value.status == 502
    assert len(caught.value.body_excerpt) <= 201
    assert "\n" not in str(caught.value)


def test_wrong_key_is_an_authentication_error_without_the_key(simulator):
    client = make_client(simulator, key="definitely-wrong-key-123")
    with pytest.raises(AuthenticationError) as caught:
        list(client.iter_rooms())
    assert caught.value.status == 401
    assert "definitely-wrong-key-123" not in str(caught.value)
    assert "definitely-wrong-key-123" not in repr(client)


def test_malformed_json_is_a_malformed_response_naming_the_endpoint(simulator_factory):
    server = simulator_factory(seed=2, rooms=3, sessions_per_room=0, participants_per_session=0)
    server.faults = FaultConfig(malformed_json_rate=1.0)
    with pytest.raises(MalformedResponse, match="/insights/rooms") as caught:
        list(make_client(server, max_retries=2).iter_rooms())
    assert caught.value.endpoint == "/insights/rooms"
    assert server.counters["/insights/rooms"] == 3


def test_truncated_bodies_and_dropped_connections_are_retried_then_typed(simulator_factory):
    server = simulator_factory(seed=2, rooms=3, sessions_per_room=0, participants_per_session=0)
    server.faults = FaultConfig(truncated_rate=1.0)
    with pytest.raises((MalformedResponse, TransportError)):
        list(make_client(server, max_retries=1).iter_rooms())
    server.faults = FaultConfig(drop_connection_rate=1.0)
    with pytest.raises(TransportError, match="/insights/rooms"):
        list(make_client(server, max_retries=1).iter_rooms())
    server.faults = FaultConfig(drop_connection_rate=0.5, truncated_rate=0.3, seed=9)
    assert len(list(make_client(server, max_retries=10).iter_rooms())) == 3


def test_a_wrongly_shaped_body_is_malformed_not_a_crash(simulator):
    with pytest.raises(MalformedResponse, match="expected an object"):
        responses.page_parts("/insights/rooms", ["not", "an", "object"])
    with pytest.raises(MalformedResponse, match="'results' is a str"):
        responses.page_parts("/insights/rooms", {"results": "nope", "cursor": None})
    assert responses.page_parts("/insights/rooms", {"results": [], "cursor": ""}) == ([], None)


def test_the_api_key_never_reaches_logs_or_errors(simulator_factory, caplog):
    server = simulator_factory(seed=2, rooms=3, sessions_per_room=1, participants_per_session=1)
    caplog.set_level(logging.DEBUG)
    texts = []
    scenarios = [
        FaultConfig(error_rate=1.0),
        FaultConfig(malformed_json_rate=1.0),
        FaultConfig(drop_connection_rate=1.0),
        FaultConfig(html_error_rate=1.0),
        FaultConfig(force_throttle=2, throttle_ms=10),
    ]
    for faults in scenarios:
        server.faults = faults
        try:
            list(make_client(server, max_retries=1).iter_rooms())
        except Exception as exc:
            texts.extend([str(exc), repr(exc)])
    try:
        list(make_client(server, key=TEST_API_KEY + "-wrong").iter_rooms())
    except AuthenticationError as exc:
        texts.extend([str(exc), repr(exc)])
    texts.extend(record.getMessage() for record in caplog.records)
    assert texts
    assert not [t for t in texts if TEST_API_KEY in t]


def test_low_remaining_points_slow_every_process_down(simulator_factory, redis_conn):
    server = simulator_factory(seed=2, rooms=300, sessions_per_room=0, participants_per_session=0)
    server.points_per_minute = 12
    server.window_seconds = 2.0  # the pause lasts until the window's reset: seconds, not a minute
    budget = RedisBudget(redis_conn, "low-remaining-test", 100_000)
    sleep = RecordedSleep()
    client = make_client(server, budget=budget, sleep=sleep, max_retry_wait=0.2)
    # RATE_LOW_REMAINING defaults to 10: every answer here leaves 11 or fewer points.
    list(client.iter_rooms())
    assert client.stats.throttles == 0
    # The budget (100,000 a minute) never made it wait: only the pause, kept in Redis for every
    # process, held pages 2 and 3 until the window's reset (the last pause may be over by now).
    assert client.stats.waited_seconds > 0.05


def test_without_redis_a_process_keeps_its_own_budget(settings, caplog):
    settings.WHEREBY_INSIGHTS = {"API_KEY": "x", "RATE_REDIS_URL": "redis://127.0.0.1:1/0"}
    budget = get_budget()
    assert isinstance(budget, LocalBudget)
    assert "keeps its own rate budget" in caplog.text


def test_local_budget_spaces_calls_to_the_configured_rate():
    clock = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        clock[0] += seconds

    budget = LocalBudget(60, clock=lambda: clock[0], sleep=sleep)
    for _ in range(5):
        budget.acquire()
    # One token to start with, then one per second at 60 points/minute.
    assert clock[0] == pytest.approx(4.0)


def test_budget_key_does_not_contain_the_api_key():
    key = budget_key("secret-api-key-abc", "https://api.whereby.dev/v1")
    assert "secret" not in key
    assert key == budget_key("secret-api-key-abc", "https://api.whereby.dev/v1")
    assert key != budget_key("other-key", "https://api.whereby.dev/v1")


BUDGET_CLIENT = """
import sys, time, django
django.setup()
from insights_app.whereby.client import WherebyClient
from insights_app.whereby.budget.current import get_budget
base_url, seconds = sys.argv[1], float(sys.argv[2])
client = WherebyClient("{key}", base_url, budget=get_budget("{key}", base_url))
deadline = time.monotonic() + seconds
calls = 0
while time.monotonic() < deadline:
    next(client.iter_room_pages())
    calls += 1
print(calls)
"""


@pytest.mark.django_db
def test_two_processes_sharing_the_redis_budget_stay_under_it(
    settings, simulator_factory, redis_conn, redis_url
):
    server = simulator_factory(seed=2, rooms=3, sessions_per_room=0, participants_per_session=0)
    points_per_minute = 120  # two calls a second between both processes
    settings.WHEREBY_INSIGHTS = {
        "API_KEY": TEST_API_KEY,
        "BASE_URL": server.base_url,
        "RATE_BUDGET_POINTS_PER_MINUTE": points_per_minute,
    }
    env = worker_env(redis_url, {"INSIGHTS_TEST_SETTINGS_JSON": json.dumps(settings.WHEREBY_INSIGHTS)})
    # A first sync learns what a call costs (until then each reserves the most, 10 points, and two
    # processes starting together read each other's calls in every fall): until it has named the limiter, then the
    # two processes find the cost in Redis and share the budget call by call.
    first = WherebyClient(TEST_API_KEY, server.base_url, budget=get_budget(TEST_API_KEY, server.base_url))
    find_the_limiter(first, get_budget(TEST_API_KEY, server.base_url), spacing=0.5)
    assert get_budget(TEST_API_KEY, server.base_url).points_for("/insights/rooms") == 1
    server.reset_counters()
    code = BUDGET_CLIENT.format(key=TEST_API_KEY)
    seconds = 6.0
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, server.base_url, str(seconds)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60) for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    calls = [int(out.strip()) for out, _err in outputs]

    times = sorted(record.time for record in server.request_log)
    window = times[-1] - times[0]
    # Tokens are granted in Redis; the simulator stamps arrival a little later, by a delay that
    # varies with process scheduling. Half a second of that is allowed for; without the shared
    # budget the two processes would have made thousands of calls in these six seconds.
    allowed = 1 + points_per_minute * (window + 0.5) / 60.0
    assert len(times) == sum(calls)
    assert len(times) <= allowed
    assert len(times) >= points_per_minute * (seconds - 2) / 60.0  # and the budget was actually used
    assert all(c >= 3 for c in calls), calls  # both processes got their share
    for _out, err in outputs:
        assert TEST_API_KEY not in err


def test_the_budget_reports_points_used_per_minute_across_processes(redis_conn):
    # 600 a minute: one call per tenth of a second, so no process reserves ahead (RESERVE_SECONDS).
    first = RedisBudget(redis_conn, "usage-test", 600)
    second = RedisBudget(redis_conn, "usage-test", 600)
    for _ in range(3):
        first.acquire()
        second.acquire()
    current, previous = first.used_per_minute()
    assert current + previous == 6
    assert second.used_per_minute() == (current, previous)
    assert first.available() < 10.0  # the six calls came out of the bucket
    time.sleep(1.1)  # a token comes back every tenth of a second at 600 a minute
    assert first.available() == pytest.approx(10.0)  # full: it holds one second of the budget, no more


def test_a_wait_for_the_shared_budget_pause_can_be_interrupted(redis_conn):
    from insights_app.errors import Interrupted

    budget = RedisBudget(redis_conn, "pause-test", 60_000)
    budget.pause(60)  # another process was told to wait a minute
    asked = []

    def interrupt():
        asked.append(1)
        return len(asked) > 1  # the run is cancelled while waiting

    started = time.monotonic()
    with pytest.raises(Interrupted):
        budget.acquire(interrupt=interrupt)
    assert time.monotonic() - started < 5
