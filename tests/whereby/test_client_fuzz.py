"""Fuzz the client's response handling: any status, headers and bytes end in data or a typed error."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from insights_app.errors import WherebyError
from insights_app.whereby.client import WherebyClient
from tests.helpers import TEST_API_KEY


class CannedServer(ThreadingHTTPServer):
    """Answers every request with the one canned response the test set."""

    daemon_threads = True
    status = 200
    headers: dict[str, str] = {}
    body = b""
    claimed_length: int | None = None


class CannedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: CannedServer

    def do_GET(self) -> None:
        server = self.server
        self.send_response(server.status)
        for name, value in server.headers.items():
            self.send_header(name, value)
        length = len(server.body) if server.claimed_length is None else server.claimed_length
        self.send_header("Content-Length", str(length))
        if server.claimed_length is not None:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(server.body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def canned() -> Iterator[CannedServer]:
    server = CannedServer(("127.0.0.1", 0), CannedHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
json_ish = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.one_of(
    st.binary(max_size=2048),
    json_ish.map(lambda v: __import__("json").dumps(v).encode()),
    st.fixed_dictionaries(
        {"results": json_ish, "cursor": st.one_of(st.none(), st.text(max_size=10), st.integers())}
    ).map(lambda v: __import__("json").dumps(v).encode()),
)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    status=st.sampled_from([200, 200, 200, 204, 301, 400, 401, 403, 404, 418, 429, 500, 502, 503]),
    body=bodies,
    content_type=st.sampled_from(["application/json", "text/html", "application/octet-stream", ""]),
    encoding=st.sampled_from(["", "gzip", "gzip-lie", "deflate", "br", "identity"]),
    hints=st.dictionaries(
        st.sampled_from(["Retry-After", "X-RateLimit-Reset", "X-RateLimit-Remaining", "X-RateLimit-Limit"]),
        header_text,
    ),
    short_by=st.one_of(st.none(), st.integers(min_value=1, max_value=50)),
    endpoint=st.sampled_from(["rooms", "sessions", "participants", "details"]),
)
@example(
    status=200, body=b"[" * 100_000, content_type="", encoding="", hints={}, short_by=None, endpoint="rooms"
)
@example(
    status=429,
    body=b'{"data": {"msLeft": 1' + b"0" * 400 + b"}}",
    content_type="application/json",
    encoding="",
    hints={"Retry-After": "Tue, 31 Dec 99999 23:59:59 GMT"},
    short_by=None,
    endpoint="rooms",
)
@pytest.mark.integration  # serves canned API answers
def test_any_response_ends_in_data_or_a_typed_error(
    canned, status, body, content_type, encoding, hints, short_by, endpoint
):
    headers = dict(hints)
    if content_type:
        headers["Content-Type"] = content_type
    if encoding == "gzip":
        body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
    elif encoding:
        headers["Content-Encoding"] = encoding.removesuffix("-lie")  # announced, not applied
    canned.status, canned.headers, canned.body = status, headers, body
    canned.claimed_length = len(body) + short_by if short_by else None
    client = WherebyClient(
        TEST_API_KEY,
        f"http://127.0.0.1:{canned.server_address[1]}/v1",
        max_retries=1,
        max_throttle_retries=1,
        backoff_base=0.0,
        max_retry_wait=0.0,
        read_timeout=2.0,
        response_timeout=5.0,
        sleep=lambda seconds: None,
    )
    calls = {
        "rooms": lambda: list(client.iter_rooms()),
        "sessions": lambda: list(client.iter_room_sessions("/room")),
        "participants": lambda: list(client.iter_participants(room_session_id="s")),
        "details": lambda: client.get_participant_details("s", "p"),
    }

    try:
        result = calls[endpoint]()
    except WherebyError as exc:
        assert TEST_API_KEY not in str(exc)
    else:
        assert isinstance(result, list)
    finally:
        client.close()
