"""Calls go straight through the session's connection pool: requests' per-call preparation is
skipped, while what is sent (headers, key, timeouts) and how a failure reads stay as requests has them."""

from __future__ import annotations

import pytest
import requests

from insights_app.errors import AuthenticationError
from insights_app.whereby import directhttp
from insights_app.whereby.client import WherebyClient
from tests.helpers import TEST_API_KEY


def test_calls_skip_requests_per_call_preparation_and_still_send_the_key(simulator, monkeypatch):
    def prepared_per_call(*args, **kwargs):
        raise AssertionError("requests prepared a call")

    client = WherebyClient(TEST_API_KEY, simulator.base_url)
    monkeypatch.setattr(requests.Session, "prepare_request", prepared_per_call)
    try:
        rooms = list(client.iter_rooms())
        sessions = list(client.iter_room_sessions(rooms[0]["roomName"]))
    finally:
        client.close()

    assert len(rooms) == 3  # the simulator enforces the key: these calls carried it
    assert sessions == simulator.organisation.session_items(rooms[0]["roomName"])
    assert simulator.request_log[-1].query == {"roomName": rooms[0]["roomName"], "limit": "100"}


def test_a_refused_key_reads_the_same_through_the_direct_route(simulator):
    client = WherebyClient("not-the-key", simulator.base_url)
    try:
        with pytest.raises(AuthenticationError) as caught:
            list(client.iter_rooms())
    finally:
        client.close()
    assert "the API key was refused (401)" in str(caught.value)
    assert "not-the-key" not in str(caught.value)


@pytest.mark.parametrize(
    ("base_url", "proxies"),
    [
        ("http://127.0.0.1:9/v1", {"http": "http://127.0.0.1:8"}),  # a proxy: requests speaks to it
        ("http://user:secret@127.0.0.1:9/v1", {}),  # credentials in the URL: requests' auth handling
        ("ftp://127.0.0.1:9/v1", {}),
    ],
)
def test_a_proxy_or_credentials_in_the_url_leave_the_call_to_requests(base_url, proxies):
    session = requests.Session()
    session.proxies.update(proxies)
    assert directhttp.route_for(session, base_url, (1.0, 1.0)) is None


def test_a_plain_url_gets_the_sessions_pool_with_the_path_prefix_and_timeouts():
    session = requests.Session()
    route = directhttp.route_for(session, "http://127.0.0.1:9/v1", (2.0, 7.0))
    assert route is not None
    assert (route.pool.host, route.pool.port, route.base_path) == ("127.0.0.1", 9, "/v1")
    assert (route.timeout.connect_timeout, route.timeout.read_timeout) == (2.0, 7.0)
