"""Live mode: the organisation's clock moves, sessions start and end, totals follow."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
import requests
import time_machine

from insights_app.simulator import OrgSpec, SimulatorServer, generate_organisation
from tests.helpers import TEST_API_KEY, wait_for

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
LIVE = {
    "seed": 3,
    "rooms": 6,
    "sessions_per_room": 10,
    "participants_per_session": 4,
    "days": 3,
    "live": True,
}


def get(server, path: str, **params) -> dict | list:
    """One authenticated GET, decoded."""
    response = requests.get(server.base_url + path, params=params, headers=AUTH, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def when(text: str) -> datetime:
    """Parse an API timestamp."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def sessions_over_http(server) -> list[dict]:
    """Every session of every room, fetched over HTTP."""
    rooms = get(server, "/insights/rooms", limit=100)["results"]
    return [
        s
        for r in rooms
        for s in get(server, "/insights/room-sessions", roomName=r["roomName"], limit=100)["results"]
    ]


def find_ongoing(server) -> dict:
    """Advance the clock in 5-minute steps until some session is running."""
    for _ in range(2000):
        server.organisation.advance(300)
        ongoing = [s for s in sessions_over_http(server) if s["endedAt"] is None]
        if ongoing:
            return ongoing[0]
    pytest.fail("no session started while the clock moved")


def test_the_default_clock_is_the_real_clock_at_start_rounded_to_the_minute():
    """Without ``now`` the organisation lives at the real clock (here pinned), rounded down to the minute."""
    instant = datetime(2028, 2, 29, 23, 59, 42, 500_000, tzinfo=UTC)
    with time_machine.travel(instant, tick=False):
        spec = OrgSpec(rooms=2, sessions_per_room=1, participants_per_session=1)
        org = generate_organisation(spec)
    assert org.now == datetime(2028, 2, 29, 23, 59, tzinfo=UTC)
    assert generate_organisation(spec).now == org.now  # resolved once, when the spec was made
    sessions = org.session_items(org.room_items()[0]["roomName"])
    assert all(when(s["startedAt"]) <= org.now for s in sessions)


def test_advancing_starts_new_sessions_and_keeps_totals_consistent(simulator_factory):
    """A day later there are more sessions, and room totals still equal the sums over sessions."""
    server = simulator_factory(**LIVE)
    before = server.organisation.stats()
    started_at = server.organisation.now
    assert before["sessions"] == 60 and before["connections"] == 240
    server.organisation.advance(86_400)
    after = server.organisation.stats()
    assert after["sessions"] > before["sessions"]
    assert after["connections"] > before["connections"]
    assert server.organisation.now == started_at + timedelta(days=1)
    rooms = get(server, "/insights/rooms", limit=100)["results"]
    for room in rooms:
        sessions = get(server, "/insights/room-sessions", roomName=room["roomName"], limit=100)["results"]
        assert room["totalSessions"] == len(sessions)
        assert room["totalParticipantMinutes"] == sum(s["totalParticipantMinutes"] for s in sessions)
        assert all(when(s["startedAt"]) <= server.organisation.now for s in sessions)
    assert sum(r["totalSessions"] for r in rooms) == after["sessions"]


def test_an_ongoing_session_counts_elapsed_time_then_ends(simulator_factory):
    """While running: endedAt null, open connections count up to now; later everything is closed."""
    server = simulator_factory(**LIVE)
    org = server.organisation
    session = find_ongoing(server)
    people = get(server, "/insights/participants", roomSessionId=session["roomSessionId"], limit=100)[
        "results"
    ]
    assert any(p["leftAt"] is None for p in people)
    expected = sum(
        math.ceil(
            ((when(p["leftAt"]) if p["leftAt"] else org.now) - when(p["joinedAt"])).total_seconds() / 60
        )
        for p in people
        if p["roleName"] not in ("recorder", "streamer")
    )
    assert session["totalParticipantMinutes"] == expected
    connected = next(p for p in people if p["leftAt"] is None)
    early = get(
        server,
        "/insights/participant",
        roomSessionId=session["roomSessionId"],
        participantId=connected["participantId"],
    )

    org.advance(4 * 3600)
    ended = get(
        server,
        "/insights/room-sessions",
        roomName=session["roomName"],
        roomSessionId=session["roomSessionId"],
    )["results"][0]
    assert ended["endedAt"] is not None and when(ended["endedAt"]) <= org.now
    assert ended["totalParticipantMinutes"] >= session["totalParticipantMinutes"]
    later = get(server, "/insights/participants", roomSessionId=session["roomSessionId"], limit=100)[
        "results"
    ]
    assert all(p["leftAt"] is not None for p in later)
    assert {p["participantId"] for p in people} <= {p["participantId"] for p in later}
    assert max(p["leftAt"] for p in later) == ended["endedAt"]
    grown = get(
        server,
        "/insights/participant",
        roomSessionId=session["roomSessionId"],
        participantId=connected["participantId"],
    )
    first_early, first_grown = early[0]["samples"], grown[0]["samples"]
    width = len(first_early["bitrateSend"])
    assert len(first_grown["bitrateSend"]) >= width
    assert first_grown["bitrateSend"][:width] == first_early["bitrateSend"][:width], (
        "earlier samples never change"
    )


def test_live_history_is_deterministic():
    """Two live organisations advanced alike serve identical data."""
    one, two = generate_organisation(OrgSpec(**LIVE)), generate_organisation(OrgSpec(**LIVE))
    one.advance(3600)
    one.advance(86_400 - 3600)
    two.advance(86_400)
    assert one.dump_json(details=False) == two.dump_json(details=False)


def test_a_static_organisation_gets_no_new_sessions():
    """Without live mode the clock may move, but no session starts after generation."""
    org = generate_organisation(OrgSpec(**{**LIVE, "live": False}))
    org.advance(7 * 86_400)
    assert org.stats()["sessions"] == 60
    with pytest.raises(ValueError):
        org.advance(-1)


@pytest.mark.integration  # serves the simulator
def test_realtime_server_moves_the_clock_with_wall_time():
    """realtime=True advances the organisation's clock by itself (sped up by ``speed``)."""
    org = generate_organisation(OrgSpec(**LIVE))
    start = org.now
    with SimulatorServer(org, api_key=TEST_API_KEY, realtime=True, speed=3600) as server:
        wait_for(lambda: org.now >= start + timedelta(hours=1), timeout=20)
        assert get(server, "/insights/rooms")["results"]
