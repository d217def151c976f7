"""Schema-driven fuzzing (schemathesis) of the four insights endpoints against Whereby's openapi.json
with the corrections of API_NOTES.md applied: no 5xx, and every answer conforms to the spec.

Schemathesis's own pytest integration (``schemathesis.pytest.from_fixture``) reads ``node._nodeid``,
which pytest 9.2 no longer has; its hypothesis strategies (``as_strategy``) drive plain hypothesis
tests here instead, which also lets the spec load lazily (skipped only outside CI when absent).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.errors import InvalidSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from insights_app.simulator import OrgSpec, SimulatorServer, generate_organisation
from insights_app.simulator.openapi_fixes import CORRECTIONS, INSIGHTS_PATHS, corrected_openapi
from tests.helpers import TEST_API_KEY
from tests.helpers.openapi import load_openapi

# The module's simulator (a module-scoped fixture) serves over HTTP: every test here is integration.
pytestmark = pytest.mark.integration

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Live, so some sessions are running (null endedAt / leftAt) and detail arrays are partial.
ORG = {"seed": 9, "rooms": 6, "sessions_per_room": 3, "participants_per_session": 2, "days": 3, "live": True}


@pytest.fixture(scope="module")
def fuzzed_server() -> Iterator[SimulatorServer]:
    """One simulator for every example (unlimited: the fuzzer is not here to meet 429s)."""
    organisation = generate_organisation(OrgSpec(**ORG, max_samples=30))  # type: ignore[arg-type]
    for _ in range(500):  # until a session runs, so null fields are served
        if organisation.stats()["ongoing_sessions"]:
            break
        organisation.advance(600)
    with SimulatorServer(organisation, api_key=TEST_API_KEY) as server:
        yield server


def real_queries(server: SimulatorServer) -> dict[str, dict[str, str]]:
    """Per endpoint, query values the organisation holds, so answers full of data are fuzzed too
    (a random id finds nothing)."""
    org = server.organisation
    room = next(r for r in org.room_items() if r["totalSessions"])
    session = org.session_items(room["roomName"])[-1]
    person = org.participant_items(session["roomSessionId"])[0]
    return {
        "/insights/rooms": {"roomName[startsWith]": room["roomName"][:3]},
        "/insights/room-sessions": {"roomName": room["roomName"]},
        "/insights/participants": {"roomSessionId": session["roomSessionId"]},
        "/insights/participant": {
            "roomSessionId": session["roomSessionId"],
            "participantId": person["participantId"],
        },
    }


@pytest.fixture(scope="module")
def insights_schema():
    """The corrected spec (skipped only outside CI when ../shared is absent)."""
    return schemathesis.openapi.from_dict(corrected_openapi(load_openapi()))


def fuzz(server: SimulatorServer, strategy) -> None:
    """Send every drawn request; no 5xx, and the status, content type and body the spec documents."""

    @settings(
        max_examples=3 * settings.default.max_examples,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(case=strategy)
    def send(case) -> None:
        response = case.call(base_url=server.base_url, headers=AUTH, timeout=10)
        case.validate_response(response, checks=CHECKS)

    send()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_every_generated_request_gets_a_conforming_answer(insights_schema, fuzzed_server, mode):
    """Requests within the spec (positive) and outside it (negative) on all four endpoints."""
    fuzz(fuzzed_server, insights_schema.as_strategy(generation_mode=mode))


def test_requests_on_real_ids_get_conforming_answers_full_of_data(insights_schema, fuzzed_server):
    """The same with the organisation's own names and ids, the other parameters fuzzed."""
    strategies = [
        insights_schema[path]["GET"].as_strategy(query=query)
        for path, query in real_queries(fuzzed_server).items()
    ]
    before = sum(fuzzed_server.counters.values())
    fuzz(fuzzed_server, st.one_of(strategies))
    assert sum(fuzzed_server.counters.values()) > before
    served = [r for r in fuzzed_server.request_log if r.path == "/insights/participant" and r.status == 200]
    assert served, "detail arrays were served, not only errors"


def test_the_corrections_are_needed(fuzzed_server):
    """Without the corrections the file cannot drive the fuzzer faithfully: the checks name each gap."""
    spec = load_openapi()
    fixed = corrected_openapi(spec)
    assert len(CORRECTIONS) == 7
    assert list(fixed["paths"]) == list(INSIGHTS_PATHS)
    raw_params = [p for path in INSIGHTS_PATHS for p in spec["paths"][path]["get"]["parameters"]]
    assert sum("schema" not in p for p in raw_params) >= 10, "the shipped file lacks parameter schemas"
    rooms = {p["name"]: p for p in fixed["paths"]["/insights/rooms"]["get"]["parameters"]}
    assert rooms["roomName"]["style"] == rooms["createdAt"]["style"] == "deepObject"
    assert all(op["get"]["security"] == [{"BearerAuth": []}] for op in fixed["paths"].values())
    assert '"null"' not in str(fixed).replace("'", '"'), "no 3.1 type lists left"
    # The shipped 200 schemas reject what the API really sends (a null cursor); the corrected accept it.
    raw_cursor = spec["paths"]["/insights/rooms"]["get"]["responses"]["200"]["content"]["application/json"]
    fixed_cursor = fixed["paths"]["/insights/rooms"]["get"]["responses"]["200"]["content"]["application/json"]
    assert raw_cursor["schema"]["properties"]["cursor"].get("nullable") is None
    assert fixed_cursor["schema"]["properties"]["cursor"]["nullable"] is True
    assert {"400", "404"} <= set(fixed["paths"]["/insights/participant"]["get"]["responses"])
    people = {p["name"]: p for p in fixed["paths"]["/insights/participants"]["get"]["parameters"]}
    assert people["roomSessionId"]["required"] is False
    assert spec["paths"]["/insights/participants"]["get"]["parameters"][0]["required"] is True, "a copy"
    # As shipped, the file cannot drive the fuzzer at all.
    shipped = schemathesis.openapi.from_dict({**spec, "paths": {p: spec["paths"][p] for p in INSIGHTS_PATHS}})
    with pytest.raises(InvalidSchema, match="should have either `schema` or `content`"):
        fuzz(fuzzed_server, shipped.as_strategy())
