"""Simulator answers validate against our own JSON Schemas and against Whereby's openapi.json (with errata)."""

from __future__ import annotations

import os

import jsonschema
import pytest
import requests

from insights_app.simulator import FaultConfig
from insights_app.simulator.schemas import (
    ERROR_BODY,
    OPENAPI_ERRATA,
    RESPONSE_SCHEMAS,
    THROTTLE_BODY,
    openapi_response_schema,
    openapi_throttle_schema,
)
from tests.helpers import TEST_API_KEY
from tests.helpers.openapi import OPENAPI
from tests.helpers.openapi import load_openapi as load_shared_openapi

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
# Short sample arrays: jsonschema checks every value, and 900 x 4 per connection adds up.
ORG = {
    "seed": 5,
    "rooms": 12,
    "sessions_per_room": 4,
    "participants_per_session": 4,
    "days": 2,
    "live": True,
    "max_samples": 60,
}


def get(server, path: str, **params) -> requests.Response:
    """One authenticated GET."""
    return requests.get(server.base_url + path, params=params, headers=AUTH, timeout=10)


def answers(server) -> dict[str, list]:
    """Real answers of every endpoint: first and last pages, an ongoing session, rooms never used."""
    org = server.organisation
    for _ in range(500):  # move on until a session is running, so null endedAt/leftAt are exercised
        if org.stats()["ongoing_sessions"]:
            break
        org.advance(600)
    collected: dict[str, list] = {path: [] for path in RESPONSE_SCHEMAS}
    cursor = None
    while True:
        page = get(server, "/insights/rooms", limit=5, **({"cursor": cursor} if cursor else {})).json()
        collected["/insights/rooms"].append(page)
        cursor = page["cursor"]
        if not cursor:
            break
    for room in org.room_items():
        page = get(server, "/insights/room-sessions", roomName=room["roomName"], limit=100).json()
        collected["/insights/room-sessions"].append(page)
        for session in page["results"]:
            people = get(
                server, "/insights/participants", roomSessionId=session["roomSessionId"], limit=100
            ).json()
            collected["/insights/participants"].append(people)
            for person in people["results"]:
                details = get(
                    server,
                    "/insights/participant",
                    roomSessionId=person["roomSessionId"],
                    participantId=person["participantId"],
                ).json()
                collected["/insights/participant"].append(details)
    assert any(s["endedAt"] is None for page in collected["/insights/room-sessions"] for s in page["results"])
    assert any(
        r["lastSessionStartedAt"] is None for page in collected["/insights/rooms"] for r in page["results"]
    )
    return collected


@pytest.fixture
def served(simulator_factory) -> dict[str, list]:
    """Answers from an organisation with ratings, and from one without."""
    collected = answers(simulator_factory(**ORG))
    for path, bodies in answers(simulator_factory(**ORG, ratings=False)).items():
        collected[path].extend(bodies)
    return collected


def load_openapi() -> dict:
    """Whereby's openapi.json; skipped only outside CI when the shared folder is absent."""
    return load_shared_openapi(OPENAPI)


def test_own_schemas_are_valid_schemas():
    """Every schema we ship is itself a valid draft 2020-12 schema."""
    for schema in [*RESPONSE_SCHEMAS.values(), THROTTLE_BODY, ERROR_BODY]:
        jsonschema.Draft202012Validator.check_schema(schema)


def test_every_endpoint_validates_against_our_schemas(served):
    """All answers of the four endpoints match the project's own schemas."""
    for path, bodies in served.items():
        validator = jsonschema.Draft202012Validator(RESPONSE_SCHEMAS[path])
        assert bodies, path
        for body in bodies:
            validator.validate(body)


def test_every_endpoint_validates_against_openapi_with_errata(served):
    """All answers match Whereby's own response schemas once the documented errata are applied."""
    spec = load_openapi()
    for path, bodies in served.items():
        schema = openapi_response_schema(spec, path)
        jsonschema.Draft202012Validator.check_schema(schema)
        validator = jsonschema.Draft202012Validator(schema)
        for body in bodies:
            validator.validate(body)


def test_the_errata_are_needed_and_few(served):
    """Without the errata real answers fail the spec (so each kind of erratum earns its place)."""
    spec = load_openapi()
    assert len(OPENAPI_ERRATA) <= 12
    failing = set()
    for path, bodies in served.items():
        validator = jsonschema.Draft202012Validator(openapi_response_schema(spec, path, errata=False))
        for body in bodies:
            for error in validator.iter_errors(body):
                failing.add((path, "required" if error.validator == "required" else error.path[-1]))
    assert ("/insights/rooms", "cursor") in failing
    assert ("/insights/rooms", "lastSessionStartedAt") in failing
    assert ("/insights/room-sessions", "endedAt") in failing
    assert ("/insights/room-sessions", "required") in failing
    assert ("/insights/participants", "leftAt") in failing
    assert ("/insights/participants", "externalId") in failing
    assert ("/insights/participants", "deviceId") in failing


def test_error_bodies_validate(simulator_factory):
    """429 bodies match ours and the spec's ThrottleError; 400 and 404 bodies carry an error string."""
    server = simulator_factory(
        faults=FaultConfig(force_throttle=1), seed=1, rooms=2, sessions_per_room=1, participants_per_session=1
    )
    throttled = get(server, "/insights/rooms")
    assert throttled.status_code == 429
    jsonschema.validate(throttled.json(), THROTTLE_BODY)
    for response in [
        get(server, "/insights/rooms", limit=0),
        get(server, "/insights/participant", roomSessionId="a", participantId="b"),
    ]:
        assert response.status_code in (400, 404)
        jsonschema.validate(response.json(), ERROR_BODY)
    if OPENAPI.exists() or os.environ.get("CI"):
        jsonschema.validate(throttled.json(), openapi_throttle_schema(load_openapi()))


def test_missing_openapi_fails_in_ci_and_skips_elsewhere(monkeypatch, tmp_path):
    """The openapi check may only be skipped outside CI; in CI a missing file is a failure."""
    monkeypatch.setitem(globals(), "OPENAPI", tmp_path / "absent.json")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        load_openapi()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        load_openapi()
