"""The simulator over real HTTP: auth, rate limit, faults, counters, on a background thread."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import math
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from . import api
from .faults import FaultConfig, corrupt_items
from .ledger import Ledger
from .organisation import Organisation
from .rateheaders import RateHeaderFaults
from .ratelimit import Decision, OrganisationLimiter, check_costs
from .replies import Reply, RequestRecord, json_bytes
from .wire import SimulatorHandler, SimulatorHTTPServer, write_reply

logger = logging.getLogger(__name__)
PREFIX = "/v1"
# The spec documents GET only; HTTP makes HEAD "GET without the body" (RFC 9110 9.3.2), so it is
# answered as GET would be, headers and all. Anything else (OPTIONS, TRACE included) is a 405 naming
# these, after the auth check and with the rate headers, like POST: the API is called with a secret
# key from servers, never by browsers, so there is no CORS preflight to answer, and TRACE must never
# echo a request (its Authorization header) back.
ALLOWED_METHODS = ("GET", "HEAD")
THROTTLE_ERROR = "Rate limit active for throttle key: organization:1"
HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


class SimulatorServer:
    """Serves an Organisation as the Whereby Insights API at ``base_url`` (``http://host:port/v1``)."""

    def __init__(
        self,
        organisation: Organisation,
        api_key: str,
        host: str = "127.0.0.1",
        port: int = 0,
        points_per_minute: int | None = None,
        faults: FaultConfig | None = None,
        *,
        window_seconds: float = 60.0,
        realtime: bool = False,
        speed: float = 1.0,
        endpoint_costs: dict[str, int] | None = None,
        background_points_per_minute: float = 0.0,
        background_pattern: str = "random",
        limiter: str = "fixed",
        rate_headers: str = "normal",
        rate_header_share: float = 0.1,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        self.organisation = organisation
        self._api_key = api_key
        self.host = host
        self.port = port
        self.faults = faults if faults is not None else FaultConfig()
        seed = getattr(getattr(organisation, "spec", None), "seed", 0)
        self._limiter = OrganisationLimiter(
            points_per_minute,
            window_seconds,
            background_points_per_minute,
            background_pattern,
            seed=seed,
            limiter=limiter,
        )
        self.rate_headers = RateHeaderFaults(rate_headers, rate_header_share, seed)
        self.endpoint_costs = check_costs(endpoint_costs or {})
        self.realtime = realtime
        self.speed = speed
        self.counters: Counter[str] = Counter()
        self.request_log: list[RequestRecord] = []
        self.in_flight = 0  # requests being answered now
        self.most_in_flight = 0  # the most answered at once (a client's concurrency, seen from here)
        self._log_lock = threading.Lock()
        # Cursors are signed with a secret derived from the seed, so they are stable across restarts.
        self._cursor_secret = hashlib.sha256(f"whereby-sim-cursor:{organisation.spec.seed}".encode()).digest()
        self._httpd: SimulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ticker: threading.Thread | None = None
        self._stopping = threading.Event()
        self._last_tick = time.monotonic()
        self._tick_lock = threading.Lock()
        self._open: set[socket.socket] = set()

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> SimulatorServer:
        """Bind and serve on a background thread."""
        if self._httpd is not None:
            return self
        self._httpd = SimulatorHTTPServer((self.host, self.port), SimulatorHandler)
        self._httpd.simulator = self
        self.port = self._httpd.server_address[1]
        self._stopping.clear()
        self._last_tick = time.monotonic()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="whereby-simulator", daemon=True
        )
        self._thread.start()
        if self.realtime:
            self._ticker = threading.Thread(
                target=self._tick_loop, name="whereby-simulator-clock", daemon=True
            )
            self._ticker.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection."""
        if self._httpd is None:
            return
        self._stopping.set()
        self.faults.release()  # a held request must not keep its thread (and shutdown) waiting
        self._httpd.shutdown()
        with self._log_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://host:port/v1`` (the port is known once started)."""
        return f"http://{self.host}:{self.port}{PREFIX}"

    @property
    def points_per_minute(self) -> int | None:
        """Budget per window (60 s unless ``window_seconds`` says otherwise); None = unlimited."""
        return self._limiter.limit

    @points_per_minute.setter
    def points_per_minute(self, value: int | None) -> None:
        self._limiter.limit = value

    @property
    def window_seconds(self) -> float:
        """Length of the rate-limit window in seconds (60 like Whereby's; shorter for tests)."""
        return self._limiter.window_seconds

    @window_seconds.setter
    def window_seconds(self, value: float) -> None:
        if value <= 0:
            raise ValueError("window_seconds must be > 0")
        self._limiter.window_seconds = value

    @property
    def background_points_per_minute(self) -> float:
        """Points per minute "the customer's product" spends from the same budget."""
        return self._limiter.background_points_per_minute

    @property
    def background_refused(self) -> int:
        """Calls of the customer's product refused because the budget was spent (their broken calls)."""
        return self._limiter.background_refused

    @property
    def limiter(self) -> str:
        """The limiter's shape: "fixed", "sliding" or "bucket" (``limiters.LIMITERS``)."""
        return self._limiter.limiter

    @property
    def background_pattern(self) -> str:
        """When the product spends: "random", "even" or "bursty" (``background.BACKGROUND_PATTERNS``)."""
        return self._limiter.background_pattern

    @property
    def ledger(self) -> Ledger:
        """Every point charged, when and to whom (``ledger.OURS`` or ``ledger.PRODUCT``), up to now.

        Reading it first charges the product's calls due since the last request, so it is complete.
        """
        self._limiter.peek()
        return self._limiter.ledger

    def reset_counters(self) -> None:
        """Forget the per-endpoint counts, the request log and the ledger."""
        with self._log_lock:
            self.counters.clear()
            self.request_log.clear()
        self._limiter.ledger.clear()

    # -- clock -----------------------------------------------------------------------------------
    def _tick(self) -> None:
        """In realtime mode, move the organisation's clock with wall time (times ``speed``)."""
        if not self.realtime:
            return
        with self._tick_lock:
            now = time.monotonic()
            elapsed, self._last_tick = now - self._last_tick, now
        self.organisation.advance(elapsed * self.speed)

    def _tick_loop(self) -> None:
        """Keep the clock moving between requests."""
        while not self._stopping.wait(1.0):
            self._tick()

    # -- requests --------------------------------------------------------------------------------
    def handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        """Answer one request and record it."""
        parts = urlsplit(handler.path)
        inside = parts.path.startswith(PREFIX + "/")
        # Counted without the /v1 prefix; anything outside /v1 is counted under its raw path.
        path = parts.path[len(PREFIX) :] if inside else parts.path
        query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        if method not in ("GET", "HEAD"):
            handler.close_connection = True  # any request body is left unread
        with self._log_lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            self._tick()
            reply = self._answer(
                method, path if inside else "", query, handler.headers.get("Authorization", "")
            )
        except Exception:  # a simulator bug must still answer, and say so in the log
            logger.exception("simulator failed on %s", path)
            reply = Reply(500, {"Content-Type": "application/json"}, json_bytes({"error": "simulator bug"}))
        reply = reply._replace(headers=self.rate_headers.apply(reply.headers))
        with self._log_lock:
            self.in_flight -= 1
            self.counters[path] += 1
            status = 0 if reply.mode == "drop" else reply.status
            self.request_log.append(RequestRecord(time.monotonic(), path, query, status, reply.points))
        write_reply(handler, reply, self._stopping, head=method == "HEAD")

    def _answer(self, method: str, path: str, query: dict[str, str], authorization: str) -> Reply:
        """Auth, then the rate budget, then injected faults, then the endpoint itself."""
        faults = self.faults
        if faults.latency_ms and faults.applies_to(path):
            time.sleep(faults.latency_ms / 1000)
        if faults.applies_to(path):
            faults.hold_here()
        if not hmac.compare_digest(authorization.encode(), f"Bearer {self._api_key}".encode()):
            return Reply(401, self._limiter.peek().headers(), b"")
        if faults.applies_to(path) and faults.take("force_throttle"):
            wait = faults.throttle_ms / 1000
            decision = Decision(False, self._limiter.peek().limit, 0, time.time() + wait, wait)
            return self._throttled(decision, faults.throttle_hints)
        cost = self.endpoint_costs.get(path, 1)  # 1 point unless endpoint_costs says otherwise
        decision = self._limiter.charge(cost)
        if not decision.allowed:
            return self._throttled(decision, faults.throttle_hints)
        return self._charged(method, path, query, decision.headers())._replace(points=cost)

    def _charged(self, method: str, path: str, query: dict[str, str], headers: dict[str, str]) -> Reply:
        """A request the budget allowed: injected faults, then the endpoint itself."""
        faults = self.faults
        if faults.applies_to(path):
            fault = self._fault(faults, headers)
            if fault is not None:
                return fault
        if method not in ALLOWED_METHODS:
            return Reply(
                405,
                {**headers, "Allow": ", ".join(ALLOWED_METHODS), "Content-Type": "application/json"},
                json_bytes({"error": "method not allowed"}),
            )
        result = api.dispatch(self.organisation, self._cursor_secret, path, query)
        body = result.body
        if (
            faults.repeat_cursor
            and faults.applies_to(path)
            and result.status == 200
            and result.cursor_in is not None
            and isinstance(body, dict)
        ):
            body = {**body, "cursor": result.cursor_in}
        if faults.corrupt_item_rate and result.status == 200 and faults.applies_to(path):
            if isinstance(body, dict) and isinstance(body.get("results"), list):
                body = {**body, "results": corrupt_items(body["results"], faults)}
            elif isinstance(body, list):
                body = corrupt_items(body, faults)
        payload = json_bytes(body)
        headers = {**headers, "Content-Type": "application/json; charset=utf-8"}
        if result.status == 200 and faults.applies_to(path):
            if faults.roll(faults.malformed_json_rate):
                return Reply(200, headers, payload[: max(1, len(payload) // 2)] + b"<!-- not json")
            if faults.roll(faults.truncated_rate):
                return Reply(200, headers, payload, mode="truncate")
            if faults.roll(faults.trickle_rate):
                pace = (faults.trickle_interval_ms / 1000, faults.trickle_bytes)
                return Reply(200, headers, payload, mode="trickle", trickle=pace)
        return Reply(result.status, headers, payload)

    def _fault(self, faults: FaultConfig, headers: dict[str, str]) -> Reply | None:
        """An injected failure before the endpoint runs, or None."""
        if faults.roll(faults.drop_connection_rate):
            return Reply(0, {}, b"", mode="drop")
        if faults.roll(faults.html_error_rate):
            return Reply(502, {**headers, "Content-Type": "text/html"}, HTML_502)
        body = (
            faults.error_body.encode()
            if faults.error_body
            else json_bytes({"error": "Internal Server Error"})
        )
        if faults.take("fail_first_n"):
            return Reply(500, {**headers, "Content-Type": "application/json"}, body)
        if faults.roll(faults.error_rate):
            return Reply(faults.error_status, {**headers, "Content-Type": "application/json"}, body)
        return None

    def _throttled(self, decision: Decision, hints: str) -> Reply:
        """A 429 carrying the wait hints that ``hints`` selects."""
        headers = decision.headers()
        wait_ms = max(1, math.ceil(decision.wait_seconds * 1000))
        body: dict = {"error": THROTTLE_ERROR}
        if hints in ("all", "retry-after"):
            headers["Retry-After"] = str(max(1, math.ceil(decision.wait_seconds)))
        if hints in ("all", "ms-left"):
            body["data"] = {"msLeft": wait_ms}
        if hints not in ("all", "reset"):
            del headers["X-RateLimit-Reset"]
        headers["Content-Type"] = "application/json; charset=utf-8"
        return Reply(429, headers, json_bytes(body))
