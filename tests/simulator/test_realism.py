"""The simulator's realism options: points per endpoint, the product's background spend, data lag,
guests without userId and rooms whose display names are stripped."""

from __future__ import annotations

import itertools
import time

import pytest
import requests
from django.core.management import call_command
from django.core.management.base import CommandError

from insights_app.management.commands.insights_simulator import Command as SimulatorCommand
from insights_app.simulator import OrgSpec, SimulatorServer, generate_organisation
from insights_app.simulator.ratelimit import REALISTIC_COSTS
from insights_app.simulator.vocab import REDACTED

NOW = "2026-03-10T12:00:00Z"
KEY = "realism-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


def small(**options) -> OrgSpec:
    """A small organisation at a fixed instant (the app's clock is not involved here)."""
    base = {
        "seed": 7,
        "rooms": 8,
        "sessions_per_room": 6,
        "participants_per_session": 5,
        "days": 10,
        "now": NOW,
    }
    return OrgSpec(**{**base, **options})


def remaining(response: requests.Response) -> int:
    """X-RateLimit-Remaining as a number."""
    return int(response.headers["X-RateLimit-Remaining"])


@pytest.mark.integration  # serves the simulator
def test_each_endpoint_costs_its_points_and_every_answer_reports_the_budget():
    """Remaining falls by the endpoint's cost; 200, 400, 404 and 401 all carry Limit and Remaining."""
    org = generate_organisation(small())
    with SimulatorServer(org, KEY, points_per_minute=500, endpoint_costs=REALISTIC_COSTS) as server:
        base = server.base_url
        rooms = requests.get(f"{base}/insights/rooms", params={"limit": 100}, headers=AUTH, timeout=10)
        assert rooms.headers["X-RateLimit-Limit"] == "500"
        assert remaining(rooms) == 500 - REALISTIC_COSTS["/insights/rooms"]
        name = rooms.json()["results"][0]["roomName"]
        sessions = requests.get(
            f"{base}/insights/room-sessions", params={"roomName": name}, headers=AUTH, timeout=10
        )
        assert remaining(rooms) - remaining(sessions) == REALISTIC_COSTS["/insights/room-sessions"]
        for response in (
            requests.get(f"{base}/insights/room-sessions", headers=AUTH, timeout=10),  # 400
            requests.get(f"{base}/insights/nothing", headers=AUTH, timeout=10),  # 404
            requests.get(f"{base}/insights/rooms", timeout=10),  # 401
        ):
            assert response.status_code in (400, 401, 404)
            assert response.headers["X-RateLimit-Limit"] == "500"
            assert "X-RateLimit-Remaining" in response.headers
        assert [record.points for record in server.request_log] == [3, 2, 2, 1, 0]


@pytest.mark.integration  # serves the simulator
def test_the_customers_product_spends_from_the_same_budget():
    """With a background spend, Remaining falls between our calls; a spent budget refuses the product."""
    org = generate_organisation(small())
    with SimulatorServer(
        org, KEY, points_per_minute=30, background_points_per_minute=1200, background_pattern="even"
    ) as server:
        first = requests.get(f"{server.base_url}/insights/rooms", headers=AUTH, timeout=10)
        time.sleep(0.5)  # 1200 points/minute = 10 points in half a second
        second = requests.get(f"{server.base_url}/insights/rooms", headers=AUTH, timeout=10)
        assert remaining(first) - remaining(second) >= 1 + 8
        time.sleep(1.5)
        requests.get(f"{server.base_url}/insights/rooms", headers=AUTH, timeout=10)
        assert server.background_refused > 0, "30 points/minute cannot serve 1200: the product was refused"


@pytest.mark.parametrize("pattern", ["random", "even"])
def test_the_products_calls_come_at_random_moments_or_evenly(pattern, monkeypatch):
    """A product's users call at random moments (the default); "even" spaces the calls exactly alike."""
    from types import SimpleNamespace

    from insights_app.simulator import ratelimit

    clock = [1000.0]
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(monotonic=lambda: clock[0], time=time.time))
    limiter = ratelimit.OrganisationLimiter(
        None, background_points_per_minute=600, background_pattern=pattern
    )
    limiter.charge(0)
    spent_per_second = []
    for _second in range(120):
        before = limiter.background_spent
        clock[0] += 1.0
        limiter.charge(0)
        spent_per_second.append(limiter.background_spent - before)
    assert 1000 <= sum(spent_per_second) <= 1400  # 10 a second on average, either way
    if pattern == "even":
        assert set(spent_per_second) <= {9, 10, 11}
    else:  # Poisson(10) a second: some seconds far from the mean
        assert min(spent_per_second) <= 5 and max(spent_per_second) >= 15


@pytest.mark.parametrize("pattern", ["even", "random", "bursty"])
def test_the_products_calls_do_not_depend_on_when_the_budget_is_looked_at(pattern):
    """The product calls at the same moments whoever looks when: an evenly spaced product no longer
    puts a call on every look (so on the arrival of each of our calls, where a bucket then never
    read full and our costs read a point high)."""
    from insights_app.simulator.background import ProductSpend

    seldom, often = ProductSpend(1000, pattern, seed=3), ProductSpend(1000, pattern, seed=3)
    looks = [0.0, 0.01, 0.1, 0.137, 0.2, 0.26, 0.31, 1.0, 1.033, 1.55, 2.0, 4.25, 10.0]  # none on the grid
    by_many = [moment for start, end in itertools.pairwise(looks) for moment in often.moments(start, end)]
    by_one = seldom.moments(0.0, 10.0)
    assert len(by_one) > 100 and by_many == pytest.approx(by_one)
    if pattern == "even":
        assert not set(looks[1:]) & {round(moment, 9) for moment in by_many}


def test_a_product_pattern_is_checked():
    with pytest.raises(ValueError, match="background_pattern must be one of random, even, bursty"):
        SimulatorServer(generate_organisation(small()), KEY, background_pattern="weekly")


def test_lag_shows_the_organisation_as_it_was_lag_minutes_ago():
    """Sessions of the last lag minutes are missing, recently ended ones still look ongoing; then it catches up."""
    sizes = {"rooms": 20, "sessions_per_room": 30, "days": 5}
    lagging = generate_organisation(small(lag_minutes=15, **sizes))
    plain = generate_organisation(small(**sizes))
    truth = [s for room in plain.room_items() for s in plain.session_items(room["roomName"])]
    recent = {s["roomSessionId"] for s in truth if s["startedAt"] >= "2026-03-10T11:45"}
    ended_lately = {
        s["roomSessionId"]
        for s in truth
        if s["startedAt"] < "2026-03-10T11:45" and (s["endedAt"] or "9") >= "2026-03-10T11:45"
    }
    assert recent and ended_lately, "the spec must have sessions in the last 15 minutes for this test"
    shown = {
        s["roomSessionId"]: s
        for room in lagging.room_items()
        for s in lagging.session_items(room["roomName"])
    }
    assert not recent & set(shown)
    assert all(shown[sid]["endedAt"] is None for sid in ended_lately)
    assert lagging.room_items() != plain.room_items()
    some = next(iter(recent))
    assert lagging.participant_items(some) == []
    lagging.advance(15 * 60)
    assert lagging.room_items() == plain.room_items()
    assert lagging.participant_items(some) == plain.participant_items(some)


def test_guests_without_user_id_and_their_unique_counts():
    """Signed-out guests (visitor/viewer roles) have userId null; hosts keep theirs; counts per device."""
    org = generate_organisation(small(guests_without_user_id=1.0))
    plain = generate_organisation(small())
    people = [
        p
        for room in org.room_items()
        for s in org.session_items(room["roomName"])
        for p in org.participant_items(s["roomSessionId"])
    ]
    guests = [
        p for p in people if p["roleName"] in ("visitor", "granted_visitor", "viewer", "granted_viewer")
    ]
    assert guests and all(p["userId"] is None for p in guests)
    assert all(p["userId"] for p in people if p["roleName"] in ("owner", "host"))
    assert all(
        p["userId"]
        for room in plain.room_items()
        for s in plain.session_items(room["roomName"])
        for p in plain.participant_items(s["roomSessionId"])
    )
    for room in org.room_items():
        for session in org.session_items(room["roomName"]):
            humans = [
                p
                for p in org.participant_items(session["roomSessionId"])
                if p["roleName"] not in ("recorder", "streamer")
            ]
            identities = {p["userId"] or p["deviceId"] or p["participantId"] for p in humans}
            assert session["totalUniqueParticipants"] == len(identities)


def test_stripped_rooms_hide_display_names_in_participants_and_details():
    """With every room stripped, names are null or [[redacted]] everywhere, and both forms occur."""
    org = generate_organisation(small(redacted_rooms=1.0))
    names = set()
    for room in org.room_items():
        for session in org.session_items(room["roomName"]):
            for person in org.participant_items(session["roomSessionId"]):
                names.add(person["displayName"])
                details = org.detail_items(session["roomSessionId"], person["participantId"])
                names.update(item["displayName"] for item in details)
    assert names == {None, REDACTED}
    plain = generate_organisation(small())
    assert any(
        p["displayName"] not in (None, REDACTED)
        for room in plain.room_items()
        for s in plain.session_items(room["roomName"])
        for p in plain.participant_items(s["roomSessionId"])
    )


def test_command_realistic_flags():
    """--realistic sets lag, costs and privacy; explicit flags win; bad values are named."""
    command = SimulatorCommand()
    parser = command.create_parser("manage.py", "insights_simulator")
    options = vars(
        parser.parse_args(
            ["--realistic", "--lag-minutes", "5", "--endpoint-cost", "participant=4", "--rooms", "3"]
        )
    )
    server = command.build_server(options)
    spec = server.organisation.spec
    assert (spec.lag_minutes, spec.guests_without_user_id, spec.redacted_rooms) == (5, 0.3, 0.1)
    assert server.endpoint_costs == {**REALISTIC_COSTS, "/insights/participant": 4}
    options = vars(parser.parse_args(["--rooms", "3", "--background-points-per-minute", "40"]))
    server = command.build_server(options)
    assert server.endpoint_costs == {} and server.background_points_per_minute == 40
    assert server.organisation.spec.lag_minutes == 0


def test_command_limiter_pattern_and_header_flags():
    """--limiter, --background-pattern bursty and --rate-headers reach the server."""
    command = SimulatorCommand()
    parser = command.create_parser("manage.py", "insights_simulator")
    flags = ["--rooms", "3", "--points-per-minute", "600", "--background-pattern", "bursty"]
    flags += ["--limiter", "bucket", "--rate-headers", "lying", "--rate-header-share", "0.5"]
    server = command.build_server(vars(parser.parse_args([*flags, "--endpoint-cost", "rooms=10"])))
    assert (server.limiter, server.background_pattern) == ("bucket", "bursty")
    assert (server.rate_headers.mode, server.rate_headers.share) == ("lying", 0.5)
    assert server.endpoint_costs == {"/insights/rooms": 10}
    server = command.build_server(vars(parser.parse_args(["--rooms", "3"])))
    assert (server.limiter, server.rate_headers.mode) == ("fixed", "normal")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--rate-header-share", "1.5"], "rate-header-share"),
        (["--endpoint-cost", "rooms=0"], "endpoint-cost"),
        (["--endpoint-cost", "rooms=11"], "from 1 to 10"),
        (["--endpoint-cost", "meetings=2"], "endpoint-cost"),
        (["--background-points-per-minute", "-1"], "background-points-per-minute"),
        (["--lag-minutes", "-3"], "lag_minutes"),
        (["--guests-without-user-id", "1.5"], "guests_without_user_id"),
        (["--redacted-rooms", "2"], "redacted_rooms"),
    ],
)
def test_bad_realism_flags(flags, message):
    """Nonsense realism values stop the command with a message naming the option."""
    with pytest.raises(CommandError, match=message):
        call_command("insights_simulator", "--rooms", "2", *flags)
