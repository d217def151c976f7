"""Reading a response as it arrives (an overall deadline, a cancel) and naming why a request failed."""

from __future__ import annotations

import os
import socket
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import requests
import urllib3.exceptions

from ..display.safetext import printable
from ..errors import Interrupted, redact

# Failures worth another attempt (a dropped, cut, slow or garbled answer, a connection refused).
TRANSIENT_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
# Only encodings read_body decodes itself while it reads.
ACCEPT_ENCODING = "gzip, deflate"
# A body larger than this is refused: far above the largest real answer, a long call's detail array
# (sizes in bench/RESULTS.md, comment figures).
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
READ_CHUNK = 64 * 1024
# How often a response being read asks whether the run was cancelled (each ask is a query).
INTERRUPT_CHECK_SECONDS = 1.0


class ResponseTooSlow(requests.Timeout):
    """The whole response took longer than its deadline (a server trickling its answer)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"not finished within {seconds:.0f} s")
        self.seconds = seconds


class TooLarge(Exception):
    """A body beyond MAX_RESPONSE_BYTES (turned into MalformedResponse by the client)."""

    def __init__(self) -> None:
        super().__init__(f"sent a body larger than {MAX_RESPONSE_BYTES // 2**20} MiB")


def host_of(base_url: str) -> str:
    """``host[:port]`` of a URL, without any ``user:password@`` it may carry."""
    parts = urlsplit(base_url)
    return (parts.hostname or "?") + (f":{parts.port}" if parts.port else "")


class Connection(Protocol):
    """What fetching needs from the client: its sender, timeouts, cancel check and host."""

    sender: Sender
    timeout: tuple[float, float]
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
    # One pool (one host) holding a connection for every request a sync keeps in flight.
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=max(10, connections + 1))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["Accept-Encoding"] = ACCEPT_ENCODING
    return session


class Sender:
    """One client's GET through ``requests``' public API, its fixed parts prepared once.

    ``Session.get`` merges the session's settings and the environment, parses and requotes the URL,
    and validates every header on each call; here the session's request is prepared once (headers,
    auth, TLS and proxy settings as ``requests`` resolves them) and each call copies it with its own
    URL and goes to the session's adapter (``HTTPAdapter.send``), as ``Session.send`` would.
    """

    def __init__(self, session: requests.Session, base_url: str) -> None:
        self._template = session.prepare_request(requests.Request("GET", base_url))
        self._base = str(self._template.url).rstrip("/")
        self._adapter = session.get_adapter(self._base)
        self._settings: dict[str, Any] = {
            "verify": session.verify,
            "cert": session.cert,
            "proxies": dict(session.proxies),
        }

    def get(self, endpoint: str, params: dict[str, str], timeout: tuple[float, float]) -> requests.Response:
        """Send a GET of ``endpoint`` (a path under the base URL); the body is left to stream."""
        request = self._template.copy()
        request.url = self._base + endpoint + ("?" + urlencode(params) if params else "")
        return self._adapter.send(request, stream=True, timeout=timeout, **self._settings)


def fetch(
    client: Connection, endpoint: str, params: dict[str, str], deadline: float
) -> tuple[requests.Response, bytes]:
    """One GET of an endpoint and its whole body by ``deadline`` (``time.monotonic()``), interruptible
    by a cancel. The body is streamed and read by ``read_body``, so a trickle cannot outlast it.
    A redirect is not followed: the API does not redirect its reads, so one is answered as it is."""
    left = max(0.001, deadline - time.monotonic())  # waiting to connect or for headers counts too
    timeout = (min(client.timeout[0], left), min(client.timeout[1], left))
    response = client.sender.get(endpoint, params, timeout)
    try:
        content = read_body(response, deadline, client.interrupt)
    except BaseException:
        response.close()  # the connection is in an unknown state: never reuse it
        raise
    response.raw.release_conn()  # read to the end: the connection may serve the next request
    return response, content


def read_body(response: requests.Response, deadline: float, interrupt: Callable[[], bool] | None) -> bytes:
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
    started = time.monotonic()
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
            raise ResponseTooSlow(now - started)
        if interrupt is not None and now >= next_check:
            next_check = now + INTERRUPT_CHECK_SECONDS
            if interrupt():
                raise Interrupted("stopped while reading a response from the API")


def describe_failure(exc: BaseException, client: Connection) -> str:
    """What went wrong talking to the client's host, and why, without the URL, credentials or key."""
    host, timeout = client.host, client.timeout
    if isinstance(exc, ResponseTooSlow):
        return f"{host} sent its answer too slowly: {exc}"
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
