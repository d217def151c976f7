"""The simulated Whereby Insights API over real HTTP: data, totals, filters, sorting, paging, auth."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import datetime

import pytest
import requests

from insights_app.simulator import OrgSpec, generate_organisation
from insights_app.simulator.vocab import HOSTILE_NAMES, REDACTED
from tests.helpers import TEST_API_KEY

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


def get(server, path: str, **params) -> requests.Response:
    """One authenticated GET against the simulator."""
    return requests.get(server.base_url + path, params=params, headers=AUTH, timeout=10)


def all_pages(server, path: str, **params) -> tuple[list[dict], int]:
    """Every item of a paginated endpoint, following cursors; and how many pages it took."""
    items: list[dict] = []
    pages = 0
    cursor = None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        response = get(server, path, **query)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["results"])
        pages += 1
        cursor = body["cursor"]
        if cursor is None:
            return items, pages
        assert pages < 10_000


def when(text: str) -> datetime:
    """Parse an API timestamp."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def everything(server) -> tuple[list[dict], dict[str, list[dict]], dict[str, list[dict]]]:
    """Rooms, sessions per room and participants per session, all fetched over HTTP."""
    rooms, _ = all_pages(server, "/insights/rooms", limit=100)
    sessions = {
        r["roomName"]: all_pages(server, "/insights/room-sessions", roomName=r["roomName"], limit=100)[0]
        for r in rooms
    }
    participants = {
        s["roomSessionId"]: all_pages(
            server, "/insights/participants", roomSessionId=s["roomSessionId"], limit=100
        )[0]
        for room_sessions in sessions.values()
        for s in room_sessions
    }
    return rooms, sessions, participants


def test_same_spec_gives_byte_identical_data(simulator_factory):
    """Two organisations from one spec serve the same bytes; another seed serves other data."""
    spec = {"seed": 7, "rooms": 6, "sessions_per_room": 3, "participants_per_session": 4}
    first = generate_organisation(OrgSpec(**spec)).dump_json()
    assert first == generate_organisation(OrgSpec(**spec)).dump_json()
    assert first != generate_organisation(OrgSpec(**{**spec, "seed": 8})).dump_json()

    one, two = simulator_factory(**spec), simulator_factory(**spec)
    for path, params in [("/insights/rooms", {"limit": 100})]:
        assert get(one, path, **params).content == get(two, path, **params).content
    room = one.organisation.room_items()[0]["roomName"]
    assert (
        get(one, "/insights/room-sessions", roomName=room).content
        == get(two, "/insights/room-sessions", roomName=room).content
    )


def test_totals_are_exact_and_uneven(simulator_factory):
    """rooms x sessions_per_room sessions and sessions x participants_per_session connections, unevenly spread."""
    server = simulator_factory(seed=3, rooms=40, sessions_per_room=5, participants_per_session=4)
    rooms, sessions, participants = everything(server)
    assert len(rooms) == 40
    assert sum(r["totalSessions"] for r in rooms) == 200
    assert sum(len(v) for v in sessions.values()) == 200
    assert sum(len(v) for v in participants.values()) == 800
    per_room = [r["totalSessions"] for r in rooms]
    assert 0 in per_room, "some rooms are never used"
    assert max(per_room) >= 2 * 5, "some rooms are busy"
    sizes = [len(v) for v in participants.values()]
    assert min(sizes) == 1
    assert max(sizes) >= 2 * 4


def test_totals_agree_between_rooms_sessions_and_participants(simulator_factory):
    """Room totals are sums over sessions; session totals follow from the participants."""
    server = simulator_factory(seed=5, rooms=12, sessions_per_room=6, participants_per_session=5)
    rooms, sessions, participants = everything(server)
    totals = [
        "totalParticipantMinutes",
        "totalRecorderMinutes",
        "totalStreamerMinutes",
        "totalUniqueParticipants",
        "totalUniqueRecorders",
        "totalUniqueStreamers",
    ]
    for room in rooms:
        room_sessions = sessions[room["roomName"]]
        assert room["totalSessions"] == len(room_sessions)
        for field in totals:
            assert room[field] == sum(s[field] for s in room_sessions), (room["roomName"], field)
        starts = sorted(s["startedAt"] for s in room_sessions)
        assert room["firstSessionStartedAt"] == (starts[0] if starts else None)
        assert room["lastSessionStartedAt"] == (starts[-1] if starts else None)
        if starts:
            assert when(room["createdAt"]) <= when(starts[0])
    for room_sessions in sessions.values():
        for session in room_sessions:
            people = participants[session["roomSessionId"]]
            minutes = defaultdict(int)
            users = defaultdict(set)
            for p in people:
                kind = p["roleName"] if p["roleName"] in ("recorder", "streamer") else "participant"
                left = when(p["leftAt"]) if p["leftAt"] else server.organisation.now
                minutes[kind] += math.ceil((left - when(p["joinedAt"])).total_seconds() / 60)
                users[kind].add(p["userId"])
                assert when(session["startedAt"]) <= when(p["joinedAt"])
                if session["endedAt"] and p["leftAt"]:
                    assert when(p["leftAt"]) <= when(session["endedAt"])
            assert session["totalParticipantMinutes"] == minutes["participant"]
            assert session["totalRecorderMinutes"] == minutes["recorder"]
            assert session["totalStreamerMinutes"] == minutes["streamer"]
            assert session["totalUniqueParticipants"] == len(users["participant"])
            assert session["totalUniqueRecorders"] == len(users["recorder"])
            assert session["totalUniqueStreamers"] == len(users["streamer"])
            assert min(p["joinedAt"] for p in people) == session["startedAt"]
            if session["endedAt"]:
                assert max(p["leftAt"] for p in people) == session["endedAt"]
            ratings = [p["rating"] for p in people if p["rating"] is not None]
            assert session["totalRatings"] == (len(ratings) or None)
            assert session["rating"] == (round(sum(ratings) / len(ratings), 2) if ratings else None)


def test_data_looks_like_a_real_organisation(simulator_factory):
    """Reconnects, bots, ratings, null ids, roles, office hours and extra fields all occur."""
    server = simulator_factory(seed=2, rooms=30, sessions_per_room=10, participants_per_session=6)
    rooms, sessions, participants = everything(server)
    flat = [p for people in participants.values() for p in people]
    roles = Counter(p["roleName"] for p in flat)
    assert {"recorder", "member", "visitor"} <= set(roles)
    assert {"host", "owner"} & set(roles)
    reconnects = [
        people
        for people in participants.values()
        if len({p["userId"] for p in people if p["roleName"] not in ("recorder", "streamer")})
        < len([p for p in people if p["roleName"] not in ("recorder", "streamer")])
    ]
    assert reconnects, "some people reconnect (new participantId, same userId)"
    same_user = defaultdict(list)
    for p in reconnects[0]:
        same_user[p["userId"]].append(p)
    again = next(v for v in same_user.values() if len(v) > 1)
    assert len({p["participantId"] for p in again}) == len(again)
    assert len({p["deviceId"] for p in again}) == 1
    assert any(p["externalId"] is None for p in flat) and any(p["externalId"] for p in flat)
    assert any(p["deviceId"] is None for p in flat)
    assert any(p["rating"] is not None for p in flat)
    assert any(p["tags"] for p in flat) and any(p["comment"] for p in flat)
    assert any(s["rating"] is not None for v in sessions.values() for s in v)
    assert any(r["lastSessionStartedAt"] is None for r in rooms)
    every_item = rooms + [s for v in sessions.values() for s in v] + flat
    assert any("region" in item for item in every_item), "unknown fields appear now and then"
    weekdays = Counter(when(s["startedAt"]).weekday() < 5 for v in sessions.values() for s in v)
    assert weekdays[True] > 3 * weekdays[False]


def test_hostile_and_redacted_names_are_served(simulator_factory):
    """Every hostile display name is served verbatim, and some names are redacted."""
    server = simulator_factory(seed=4, rooms=10, sessions_per_room=5, participants_per_session=5)
    _, _, participants = everything(server)
    names = {p["displayName"] for people in participants.values() for p in people}
    for name in HOSTILE_NAMES:
        assert name in names
    assert any(len(name) == 300 for name in names)
    quiet = simulator_factory(
        seed=4, rooms=10, sessions_per_room=5, participants_per_session=5, hostile_names=False
    )
    _, _, quiet_participants = everything(quiet)
    quiet_names = {p["displayName"] for people in quiet_participants.values() for p in people}
    assert not quiet_names & set(HOSTILE_NAMES)
    big = generate_organisation(OrgSpec(seed=4, rooms=20, sessions_per_room=10, participants_per_session=5))
    assert any(
        p["displayName"] == REDACTED
        for r in big.room_items()
        for s in big.session_items(r["roomName"])
        for p in big.participant_items(s["roomSessionId"])
    )


def test_rooms_filters(simulator_factory):
    """roomName exact/startsWith/contains and createdAt from/to filter rooms, also with URL-hostile names."""
    server = simulator_factory(seed=1, rooms=20, sessions_per_room=2, participants_per_session=2)
    rooms = server.organisation.room_items()
    tricky = next(r["roomName"] for r in rooms if "&" in r["roomName"])
    assert [
        r["roomName"] for r in get(server, "/insights/rooms", **{"roomName[exact]": tricky}).json()["results"]
    ] == [tricky]
    assert get(server, "/insights/rooms", **{"roomName[exact]": "/nope"}).json() == {
        "cursor": None,
        "results": [],
    }
    prefix = tricky[:8]
    started = get(server, "/insights/rooms", limit=100, **{"roomName[startsWith]": prefix}).json()["results"]
    assert started and all(r["roomName"].startswith(prefix) for r in started)
    needle = tricky.rsplit("-", 1)[1]
    contained = get(server, "/insights/rooms", limit=100, **{"roomName[contains]": needle}).json()["results"]
    assert [r["roomName"] for r in contained] == [tricky]
    created = sorted(r["createdAt"] for r in rooms)
    low, high = created[5], created[14]
    window = get(
        server, "/insights/rooms", limit=100, **{"createdAt[from]": low, "createdAt[to]": high}
    ).json()
    assert sorted(r["createdAt"] for r in window["results"]) == created[5:15]
    bad = get(server, "/insights/rooms", **{"createdAt[from]": "yesterday"})
    assert bad.status_code == 400 and "createdAt[from]" in bad.json()["error"]


def test_sort_by_and_its_validation(simulator_factory):
    """sortBy orders results; an unknown field or direction is a 400 with a JSON error."""
    server = simulator_factory(seed=1, rooms=15, sessions_per_room=4, participants_per_session=4)
    by_sessions = get(server, "/insights/rooms", limit=100, sortBy="totalSessions:desc").json()["results"]
    counts = [r["totalSessions"] for r in by_sessions]
    assert counts == sorted(counts, reverse=True)
    by_name = get(server, "/insights/rooms", limit=100, sortBy="roomName:asc").json()["results"]
    assert [r["roomName"] for r in by_name] == sorted(r["roomName"] for r in by_name)
    room = max(server.organisation.room_items(), key=lambda r: r["totalSessions"])["roomName"]
    minutes = get(
        server, "/insights/room-sessions", roomName=room, limit=100, sortBy="totalParticipantMinutes:asc"
    ).json()
    values = [s["totalParticipantMinutes"] for s in minutes["results"]]
    assert values == sorted(values)
    session = minutes["results"][0]["roomSessionId"]
    joined = get(server, "/insights/participants", roomSessionId=session, sortBy="joinedAt:desc").json()[
        "results"
    ]
    assert [p["joinedAt"] for p in joined] == sorted((p["joinedAt"] for p in joined), reverse=True)
    for path, params in [
        ("/insights/rooms", {"sortBy": "colour:asc"}),
        ("/insights/rooms", {"sortBy": "totalSessions:sideways"}),
        ("/insights/room-sessions", {"roomName": room, "sortBy": "totalSessions:asc"}),
        ("/insights/participants", {"roomSessionId": session, "sortBy": "displayName:asc"}),
    ]:
        response = get(server, path, **params)
        assert response.status_code == 400
        assert "sortBy" in response.json()["error"]


@pytest.mark.parametrize("limit", ["0", "101", "x", "-1", "1.5", ""])
def test_bad_limit_is_400(simulator, limit):
    """limit must be an integer 1..100."""
    response = get(simulator, "/insights/rooms", limit=limit)
    assert response.status_code == 400
    assert "limit" in response.json()["error"]


def test_default_limit_is_10_and_100_is_allowed(simulator_factory):
    """Without limit a page has 10 items; limit=100 is accepted."""
    server = simulator_factory(seed=1, rooms=25, sessions_per_room=1, participants_per_session=1)
    first = get(server, "/insights/rooms").json()
    assert len(first["results"]) == 10 and first["cursor"]
    assert len(get(server, "/insights/rooms", limit=100).json()["results"]) == 25


def test_paging_reaches_every_item_exactly_once(simulator_factory):
    """Following cursors yields each item once, in the default order; the last cursor is null."""
    server = simulator_factory(seed=9, rooms=23, sessions_per_room=8, participants_per_session=4)
    org = server.organisation
    rooms, pages = all_pages(server, "/insights/rooms", limit=7)
    assert rooms == org.room_items() and pages == 4
    busy = max(rooms, key=lambda r: r["totalSessions"])
    sessions, _ = all_pages(server, "/insights/room-sessions", roomName=busy["roomName"], limit=3)
    assert sessions == org.session_items(busy["roomName"])
    assert len({s["roomSessionId"] for s in sessions}) == busy["totalSessions"]
    sorted_rooms, _ = all_pages(server, "/insights/rooms", limit=5, sortBy="totalParticipantMinutes:desc")
    assert sorted(r["roomName"] for r in sorted_rooms) == sorted(r["roomName"] for r in rooms)
    big = max(sessions, key=lambda s: len(org.participant_items(s["roomSessionId"])))
    people, _ = all_pages(server, "/insights/participants", roomSessionId=big["roomSessionId"], limit=2)
    assert people == org.participant_items(big["roomSessionId"])


def test_cursors_are_checked(simulator_factory):
    """A garbage cursor, or one from another query, is a 400."""
    server = simulator_factory(seed=1, rooms=25, sessions_per_room=1, participants_per_session=1)
    cursor = get(server, "/insights/rooms", limit=5).json()["cursor"]
    assert get(server, "/insights/rooms", limit=5, cursor=cursor).status_code == 200
    for garbage in ["not-a-cursor", "AAAA", cursor[:-2], "%%%"]:
        response = get(server, "/insights/rooms", limit=5, cursor=garbage)
        assert response.status_code == 400 and "cursor" in response.json()["error"]
    other = get(server, "/insights/rooms", limit=5, cursor=cursor, sortBy="roomName:asc")
    assert other.status_code == 400


def test_room_sessions_endpoint(simulator_factory):
    """roomName is required; an unknown room has no sessions; roomSessionId narrows to one."""
    server = simulator_factory(seed=1, rooms=4, sessions_per_room=5, participants_per_session=2)
    missing = get(server, "/insights/room-sessions")
    assert missing.status_code == 400 and "roomName" in missing.json()["error"]
    assert get(server, "/insights/room-sessions", roomName="/no-such-room").json() == {
        "cursor": None,
        "results": [],
    }
    room = max(server.organisation.room_items(), key=lambda r: r["totalSessions"])
    sessions = get(server, "/insights/room-sessions", roomName=room["roomName"], limit=100).json()["results"]
    assert all(s["roomName"] == room["roomName"] for s in sessions)
    one = get(
        server,
        "/insights/room-sessions",
        roomName=room["roomName"],
        roomSessionId=sessions[1]["roomSessionId"],
    )
    assert one.json()["results"] == [sessions[1]]


def test_participants_endpoint(simulator_factory):
    """roomSessionId or externalId is required; externalId finds a person across sessions."""
    server = simulator_factory(seed=1, rooms=6, sessions_per_room=8, participants_per_session=5)
    missing = get(server, "/insights/participants")
    assert missing.status_code == 400 and "externalId" in missing.json()["error"]
    assert get(server, "/insights/participants", roomSessionId="nope").json() == {
        "cursor": None,
        "results": [],
    }
    org = server.organisation
    flat = [
        p
        for r in org.room_items()
        for s in org.session_items(r["roomName"])
        for p in org.participant_items(s["roomSessionId"])
    ]
    frequent = Counter(p["externalId"] for p in flat if p["externalId"]).most_common(1)[0][0]
    found, _ = all_pages(server, "/insights/participants", externalId=frequent, limit=3)
    assert found == [
        p
        for p in sorted(flat, key=lambda p: (p["joinedAt"], p["participantId"]))
        if p["externalId"] == frequent
    ]
    assert len({p["roomSessionId"] for p in found}) > 1
    assert found == org.participant_items_by_external_id(frequent)


def test_participant_detail_endpoint(simulator_factory):
    """An array of detail items with 2 s samples, gaps, bad episodes, both loss units and extra fields."""
    server = simulator_factory(
        seed=6, rooms=8, sessions_per_room=6, participants_per_session=5, max_samples=400
    )
    org = server.organisation
    flat = [
        p
        for r in org.room_items()
        for s in org.session_items(r["roomName"])
        for p in org.participant_items(s["roomSessionId"])
    ]
    units = Counter()
    saw = Counter()
    for p in flat:
        response = get(
            server,
            "/insights/participant",
            roomSessionId=p["roomSessionId"],
            participantId=p["participantId"],
        )
        assert response.status_code == 200
        items = response.json()
        assert isinstance(items, list) and items == org.detail_items(p["roomSessionId"], p["participantId"])
        saw[f"{len(items)} items"] += 1
        for item in items:
            assert item["displayName"] == p["displayName"] and item["userRole"] == p["roleName"]
            assert item["sampleRateMs"] == 2000
            series = item["samples"]
            lengths = {len(v) for v in series.values()}
            assert len(lengths) == 1 and 1 <= lengths.pop() <= 400
            losses = [v for k in ("packetLossSend", "packetLossRecv") for v in series[k] if v is not None]
            unit = "fraction" if max(losses) <= 1 else "percent"
            assert max(losses) > 0
            units[unit] += 1
            as_percent = [
                v * 100 if unit == "fraction" and v is not None else v for v in series["packetLossSend"]
            ]
            run = best = 0
            for value in as_percent:
                run = run + 1 if value is not None and value >= 3 else 0
                best = max(best, run)
            saw["bad episode"] += best >= 5
            saw["gap"] += any(v is None for v in series["bitrateRecv"])
            saw["extra"] += "region" in item
            assert isinstance(item["events"], list)
    assert units["fraction"] and units["percent"]
    assert saw["1 items"] and saw["2 items"] and saw["bad episode"] and saw["gap"] and saw["extra"]
    assert saw["1 items"] > saw["2 items"]
    unknown = get(
        server, "/insights/participant", roomSessionId=flat[0]["roomSessionId"], participantId="nobody"
    )
    assert unknown.status_code == 404 and unknown.json()["error"]
    assert get(server, "/insights/participant", roomSessionId=flat[0]["roomSessionId"]).status_code == 400


def test_auth_is_required(simulator):
    """No key or a wrong key is a 401 without a body; the right key works."""
    url = simulator.base_url + "/insights/rooms"
    for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TEST_API_KEY}]:
        response = requests.get(url, headers=headers, timeout=10)
        assert response.status_code == 401
        assert response.content == b""
    assert requests.get(url, headers=AUTH, timeout=10).status_code == 200


def test_unknown_paths_are_404_and_other_methods_405(simulator):
    """Anything but the four endpoints is a 404; anything but GET (and HEAD) is a 405."""
    posted = requests.post(simulator.base_url + "/insights/rooms", headers=AUTH, data="{}", timeout=10)
    assert posted.status_code == 405 and posted.headers["Allow"] == "GET, HEAD"
    for path in ["/insights/nothing", "/rooms", "/insights"]:
        assert get(simulator, path).status_code == 404
    assert (
        requests.get(
            simulator.base_url.removesuffix("/v1") + "/insights/rooms", headers=AUTH, timeout=10
        ).status_code
        == 404
    )


def test_counters_count_every_request_per_endpoint(simulator):
    """counters and request_log see every request, whatever its status; reset_counters clears them."""
    room = simulator.organisation.room_items()[0]["roomName"]
    get(simulator, "/insights/rooms")
    get(simulator, "/insights/rooms", limit=0)
    requests.get(simulator.base_url + "/insights/rooms", timeout=10)
    get(simulator, "/insights/room-sessions", roomName=room)
    get(simulator, "/insights/participant", roomSessionId="x", participantId="y")
    assert simulator.counters == Counter(
        {"/insights/rooms": 3, "/insights/room-sessions": 1, "/insights/participant": 1}
    )
    assert [r.status for r in simulator.request_log] == [200, 400, 401, 200, 404]
    assert simulator.request_log[3].query == {"roomName": room}
    simulator.reset_counters()
    assert not simulator.counters and not simulator.request_log


def test_ratings_can_be_switched_off(simulator_factory):
    """Without ratings (before the 2026 beta) the rating fields are absent."""
    server = simulator_factory(
        seed=1, rooms=3, sessions_per_room=3, participants_per_session=3, ratings=False
    )
    room = get(server, "/insights/rooms").json()["results"][0]
    assert "rating" not in room and "totalRatings" not in room
    sessions = server.organisation.session_items(room["roomName"]) or server.organisation.session_items(
        next(r["roomName"] for r in server.organisation.room_items() if r["totalSessions"])
    )
    people = get(server, "/insights/participants", roomSessionId=sessions[0]["roomSessionId"]).json()[
        "results"
    ]
    assert people and all("rating" not in p and "comment" not in p for p in people)
