"""A GET sent straight through the connection pool of the client's ``requests`` session.

Profiled, ``requests`` spent more CPU per call preparing the request and wrapping the response
(URL parsing and requoting, merging settings and hooks, cookie jars, proxy and TLS look-ups) than
urllib3 spent sending and reading it; in a full sync of many small pages that was a tenth of the
process's CPU. This sends what ``requests`` would send (its session's headers, timeouts, TLS settings
and pool) and raises what it would raise, but prepares the fixed parts once per client. A base URL
with a proxy or with credentials in it is left to ``requests``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
import urllib3
from requests.exceptions import InvalidHeader, ProxyError, RetryError, SSLError
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.exceptions import HTTPError as Urllib3HTTPError
from urllib3.exceptions import InvalidHeader as Urllib3InvalidHeader
from urllib3.exceptions import ProxyError as Urllib3ProxyError
from urllib3.exceptions import SSLError as Urllib3SSLError

# As requests sends: no retry inside urllib3 (the client retries), no redirect followed.
NO_RETRIES = urllib3.Retry(0, read=False)


class Answer:
    """A response as the client reads it: status, headers (case-insensitive), the body's stream."""

    __slots__ = ("headers", "raw", "status_code")

    def __init__(self, raw: urllib3.BaseHTTPResponse) -> None:
        self.raw = raw
        self.status_code = raw.status
        self.headers = raw.headers

    def close(self) -> None:
        """Drop the connection (its state is unknown), as ``requests.Response.close`` does."""
        self.raw.close()
        self.raw.release_conn()


@dataclass(frozen=True)
class Route:
    """The pool, path prefix and timeout of one client's base URL, found once."""

    pool: urllib3.HTTPConnectionPool
    base_path: str
    timeout: urllib3.Timeout


def route_for(session: requests.Session, base_url: str, timeout: tuple[float, float]) -> Route | None:
    """The direct route to ``base_url`` through the session's own pool; None where ``requests``
    must do the work (a proxy, credentials in the URL, a scheme other than http and https)."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or parts.username or parts.password:
        return None
    if requests.utils.select_proxy(base_url, session.proxies):
        return None
    adapter = session.get_adapter(base_url)
    if not isinstance(adapter, requests.adapters.HTTPAdapter):
        return None
    prepared = requests.Request("GET", base_url).prepare()
    pool = adapter.get_connection_with_tls_context(prepared, session.verify, cert=session.cert)
    if not isinstance(pool, urllib3.HTTPConnectionPool):
        return None
    adapter.cert_verify(pool, base_url, session.verify, session.cert)
    return Route(pool, parts.path, urllib3.Timeout(connect=timeout[0], read=timeout[1]))


def get(route: Route, session: requests.Session, endpoint: str, params: dict[str, str]) -> Answer:
    """One GET of ``endpoint`` (a path under the base URL) with the session's headers; the body is
    left unread. Failures are raised as the ``requests`` exceptions the client handles."""
    path = route.base_path + endpoint + ("?" + urlencode(params) if params else "")
    try:
        raw = route.pool.urlopen(
            "GET",
            path,
            headers={name: str(value) for name, value in session.headers.items()},
            redirect=False,
            assert_same_host=False,
            preload_content=False,
            decode_content=False,
            retries=NO_RETRIES,
            timeout=route.timeout,
        )
    except Exception as exc:
        raise as_requests_error(exc) from None
    return Answer(raw)


# What requests raises for urllib3's exception, or for the reason of its MaxRetryError: first match.
_Mapping = tuple[tuple[type[Exception], type[requests.RequestException]], ...]
_AFTER_RETRIES: _Mapping = (
    (ResponseError, RetryError),
    (Urllib3ProxyError, ProxyError),
    (Urllib3SSLError, SSLError),
)
_DIRECT: _Mapping = (
    (Urllib3ProxyError, ProxyError),
    (Urllib3SSLError, SSLError),
    (ReadTimeoutError, requests.ReadTimeout),
    (Urllib3InvalidHeader, InvalidHeader),
)


def as_requests_error(exc: Exception) -> Exception:
    """The exception ``requests.adapters.HTTPAdapter.send`` raises for this urllib3 one."""
    if isinstance(exc, (ProtocolError, OSError, ClosedPoolError)):
        return requests.ConnectionError(exc)
    if isinstance(exc, MaxRetryError):
        reason: Any = exc.reason
        if isinstance(reason, ConnectTimeoutError) and not isinstance(reason, NewConnectionError):
            return requests.ConnectTimeout(exc)
        for source, target in _AFTER_RETRIES:
            if isinstance(reason, source):
                return target(exc)
        return requests.ConnectionError(exc)
    for source, target in _DIRECT:
        if isinstance(exc, source):
            return target(exc)
    if isinstance(exc, Urllib3HTTPError):
        return requests.RequestException(exc)
    return exc
