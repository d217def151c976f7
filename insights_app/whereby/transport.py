"""Reading a response as it arrives (an overall deadline, a cancel) and naming why a request failed."""

from __future__ import annotations

import json
import os
import re
import socket
import time
import weakref
import zlib
from collections.abc import Callable, Iterator
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from ..display.safetext import printable
from ..errors import Interrupted, MalformedResponse, redact
from . import directhttp

# Failures worth another attempt (a dropped, cut, slow or garbled answer, a connection refused).
TRANSIENT_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
# Only encodings read_body decodes itself while it reads.
ACCEPT_ENCODING = "gzip, deflate"
# A body larger than this is refused: a detail array of a 3-hour call is ~0.5 MB, a page ~0.1 MB.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
READ_CHUNK = 64 * 1024
# How often a response being read asks whether the run was cancelled (each ask is a query).
INTERRUPT_CHECK_SECONDS = 1.0


class ResponseTooSlow(requests.Timeout):
    """The whole response took longer than the overall deadline (a server trickling its answer)."""


class TooLarge(Exception):
    """A body beyond MAX_RESPONSE_BYTES (turned into MalformedResponse by the client)."""

    def __init__(self) -> None:
        super().__init__(f"sent a body larger than {MAX_RESPONSE_BYTES // 2**20} MiB")


# What fetch returns: the direct route's answer, or requests' own response (proxies, credentials).
Response = directhttp.Answer | requests.Response


def host_of(base_url: str) -> str:
    """``host[:port]`` of a URL, without any ``user:password@`` it may carry."""
    parts = urlsplit(base_url)
    return (parts.hostname or "?") + (f":{parts.port}" if parts.port else "")


class Connection(Protocol):
    """What fetching needs from the client: its session, base URL, timeouts, cancel check and host."""

    session: requests.Session
    base_url: str
    timeout: tuple[float, float]
    response_timeout: float
    interrupt: Callable[[], bool] | None
    host: str


def new_session(base_url: str, connections: int) -> requests.Session:
    """A session that reads the environment once, not on every call, and pools enough connections.

    ``requests`` looks up proxies, ``NO_PROXY``, netrc and the CA bundle in the environment for every
    request of a session that trusts it; the same settings are resolved here once (HTTPS_PROXY and
    friends, REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE still apply).
    """
    session = requests.Session()
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=max(10, connections + 1))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["Accept-Encoding"] = ACCEPT_ENCODING
    return session


_routes: weakref.WeakKeyDictionary[requests.Session, directhttp.Route | None] = weakref.WeakKeyDictionary()


def fetch(client: Connection, endpoint: str, params: dict[str, str]) -> tuple[Response, bytes]:
    """One GET of an endpoint and its whole body, within the overall deadline and interruptible by a cancel."""
    deadline = time.monotonic() + client.response_timeout
    session = client.session
    if session not in _routes:  # found once per session (two threads may both find it: the same)
        _routes[session] = directhttp.route_for(session, client.base_url, client.timeout)
    route = _routes[session]
    response: Response
    if route is not None:
        response = directhttp.get(route, session, endpoint, params)
    else:
        response = session.get(client.base_url + endpoint, params=params, timeout=client.timeout, stream=True)
    try:
        content = read_body(response, deadline, client.response_timeout, client.interrupt)
    except BaseException:
        response.close()  # the connection is in an unknown state: never reuse it
        raise
    response.raw.release_conn()  # read to the end: the connection may serve the next request
    return response, content


def read_body(
    response: Response,
    deadline: float,
    response_timeout: float,
    interrupt: Callable[[], bool] | None,
) -> bytes:
    """The whole body, read as it arrives: a per-read timeout alone never ends a trickle.

    Decompresses gzip/deflate itself (urllib3's decoder could spin inside one read on a trickle),
    checks the deadline after every chunk and asks ``interrupt`` at most once a second.
    """
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    decoder: Any = None
    if encoding in ("gzip", "x-gzip", "deflate"):
        decoder = zlib.decompressobj(wbits=47 if encoding != "deflate" else 15)
    elif encoding not in ("", "identity"):
        raise requests.exceptions.ContentDecodingError(f"unsupported Content-Encoding {encoding!r}")
    body = bytearray()
    next_check = time.monotonic() + INTERRUPT_CHECK_SECONDS
    while True:
        try:
            chunk = response.raw.read1(READ_CHUNK, decode_content=False)
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise requests.ReadTimeout(exc) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise requests.exceptions.ChunkedEncodingError(exc) from None
        if not chunk:  # the end of the body
            if decoder is not None:
                body += decoder.flush()
            if len(body) > MAX_RESPONSE_BYTES:
                raise TooLarge()
            return bytes(body)
        if decoder is not None:
            try:
                chunk = decoder.decompress(chunk, MAX_RESPONSE_BYTES + 1 - len(body))
            except zlib.error as exc:
                raise requests.exceptions.ContentDecodingError(exc) from None
        body += chunk
        if len(body) > MAX_RESPONSE_BYTES or (decoder is not None and decoder.unconsumed_tail):
            raise TooLarge()
        now = time.monotonic()
        if now > deadline:
            raise ResponseTooSlow(f"the whole response took over {response_timeout:g} s")
        if interrupt is not None and now >= next_check:
            next_check = now + INTERRUPT_CHECK_SECONDS
            if interrupt():
                raise Interrupted("stopped while reading a response from the API")


def describe_failure(exc: BaseException, client: Connection) -> str:
    """What went wrong talking to the client's host, and why, without the URL, credentials or key."""
    host, timeout, response_timeout = client.host, client.timeout, client.response_timeout
    if isinstance(exc, ResponseTooSlow):
        return f"{host} sent its answer too slowly: not finished within {response_timeout:g} s"
    if isinstance(exc, requests.ConnectTimeout):
        return f"connecting to {host} timed out after {timeout[0]:g} s"
    if isinstance(exc, requests.ReadTimeout):
        return f"{host} did not answer within {timeout[1]:g} s"
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return f"{host} sent a body that could not be decoded"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return f"{host} closed the connection in the middle of its answer"
    causes = list(_causes(exc))
    if any(isinstance(c, (socket.gaierror, urllib3.exceptions.NameResolutionError)) for c in causes):
        return f"the name {host.rsplit(':', 1)[0]} could not be resolved (DNS)"
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return f"{host} refused the connection (nothing listening on that port?)"
    if any(isinstance(c, (socket.timeout, urllib3.exceptions.ConnectTimeoutError)) for c in causes):
        return f"connecting to {host} timed out after {timeout[0]:g} s"
    if any(isinstance(c, urllib3.exceptions.SSLError) for c in causes):
        return f"the TLS handshake with {host} failed (certificate or protocol)"
    if any(isinstance(c, (ConnectionResetError, urllib3.exceptions.ProtocolError)) for c in causes):
        return f"{host} dropped the connection without answering"
    return f"could not connect to {host} ({type(exc).__name__})"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: requests and urllib3 nest the socket error in args and ``reason``."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        current = todo.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend([*current.args, getattr(current, "reason", None), current.__cause__, current.__context__])


def excerpt(content: bytes, secret: str, limit: int = 200) -> str:
    """A short, single-line excerpt of a body for errors we log and store: no control characters
    (an error body may carry terminal escapes) and no ``secret``."""
    text = redact(printable(content[: limit * 4].decode("utf-8", errors="replace")), secret)
    return text[:limit] + ("…" if len(text) > limit else "")


def page_parts(endpoint: str, body: Any) -> tuple[list[dict[str, Any]], str | None]:
    """The items and next cursor of a list endpoint's answer (MalformedResponse when it is not one)."""
    if not isinstance(body, dict):
        raise MalformedResponse(
            f"{endpoint} answered a {type(body).__name__}, expected an object with results",
            endpoint=endpoint,
        )
    results = body.get("results")
    if results is None:
        results = []
    if not isinstance(results, list):
        raise MalformedResponse(
            f"{endpoint} 'results' is a {type(results).__name__}, expected a list", endpoint=endpoint
        )
    cursor = body.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise MalformedResponse(
            f"{endpoint} 'cursor' is a {type(cursor).__name__}, expected a string or null",
            endpoint=endpoint,
        )
    # Non-object items are passed through as they are: the sync counts them as skipped with a reason.
    return results, (cursor or None)


_LONE_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_json(content: bytes) -> Any:
    """A body as JSON, with what no database can store made storable: NaN and Infinity (which
    Python's parser accepts) become null, and a lone surrogate escape (half of a character) becomes
    U+FFFD. Otherwise one such value in a page would make the database refuse the page's batch."""
    parsed = json.loads(content, parse_constant=lambda _name: None)
    if _LONE_SURROGATE_ESCAPE.search(content):  # only then can a string hold half a character
        parsed = _without_surrogates(parsed)
    return parsed


def _without_surrogates(value: Any) -> Any:
    """``value`` with every unpaired surrogate in its strings (keys too) replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_without_surrogates(key): _without_surrogates(item) for key, item in value.items()}
    return value
