"""Every HTTP method gets the API's answer: HEAD as GET without a body, anything else a 405; never a 501."""

from __future__ import annotations

import http.client

import pytest
import requests

from tests.helpers import TEST_API_KEY

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


def call(server, method: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """One request with any method token (requests refuses some), answered over a fresh connection."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        connection.request(method, "/v1/insights/rooms?limit=2", headers=headers)
        response = connection.getresponse()
        body = b"" if method == "HEAD" else response.read()
        return response.status, dict(response.getheaders()), body
    finally:
        connection.close()


def test_head_answers_with_gets_headers_and_no_body(simulator_factory):
    server = simulator_factory(
        seed=2, rooms=3, sessions_per_room=1, participants_per_session=1, points_per_minute=100
    )
    got = requests.get(server.base_url + "/insights/rooms?limit=2", headers=AUTH, timeout=10)
    head = requests.head(server.base_url + "/insights/rooms?limit=2", headers=AUTH, timeout=10)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == str(len(got.content))
    assert head.headers["Content-Type"] == got.headers["Content-Type"]
    assert head.headers["X-RateLimit-Limit"] == "100"
    assert int(head.headers["X-RateLimit-Remaining"]) == int(got.headers["X-RateLimit-Remaining"]) - 1
    assert requests.head(server.base_url + "/insights/rooms", timeout=10).status_code == 401
    # The connection stays usable after a HEAD (no stray body in the stream).
    with requests.Session() as session:
        session.headers.update(AUTH)
        assert session.head(server.base_url + "/insights/rooms", timeout=10).status_code == 200
        assert session.get(server.base_url + "/insights/rooms", timeout=10).json()["results"]


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "PROPFIND", "CONNECT"])
def test_other_methods_are_checked_then_refused_with_allow(simulator, method):
    status, headers, body = call(simulator, method, {})
    assert status == 401 and body == b"", "the key is checked first, as for every method"
    assert "X-RateLimit-Limit" in headers
    status, headers, body = call(simulator, method, AUTH)
    assert status == 405
    assert headers["Allow"] == "GET, HEAD"
    assert headers["Content-Type"] == "application/json"
    assert "X-RateLimit-Remaining" in headers
    assert TEST_API_KEY.encode() not in body, "TRACE never echoes the request"
