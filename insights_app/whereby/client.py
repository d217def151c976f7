"""Whereby Insights HTTP client: auth, paging, retries, the shared rate budget, and accounting."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any, TypeVar

import requests

from .. import __version__
from ..conf import get_settings
from ..errors import (
    ConfigurationError,
    MalformedResponse,
    PaginationError,
    RateLimited,
    ServerError,
    TransportError,
)
from . import transport
from .accounting import UNCHARGED, ApiStats, CallClock
from .budget.current import get_budget
from .budget.protocol import RateBudget
from .fetchpool import Ahead, FetchPool, SendGate
from .pages import PARTICIPANT, PARTICIPANTS, ROOM_FILTERS, ROOM_SESSIONS, ROOMS, Page
from .responses import client_error, page_parts, parse_json
from .wait_hints import throttle_wait, wait_unless_interrupted

logger = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

USER_AGENT = f"django-whereby-insights/{__version__} (+https://pypi.org/project/django-whereby-insights/)"


class WherebyClient:
    """One ``requests.Session`` against the Whereby API; one method per endpoint."""

    def __init__(
        self,
        api_key: str,
        base_url: str,
        *,
        budget: RateBudget | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        response_timeout: float = 60.0,
        call_deadline: float = 90.0,
        page_size: int = 100,
        max_pages: int = 10_000,
        max_retries: int = 5,
        max_throttle_retries: int = 20,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_wait: float = 120.0,
        concurrency: int = 1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise ConfigurationError("No Whereby API key: set WHEREBY_INSIGHTS['API_KEY'] (WHEREBY_API_KEY)")
        if not isinstance(api_key, str) or any(c.isspace() or not c.isprintable() for c in api_key):
            # Typically a trailing newline from a secrets file; requests would echo the key in its error.
            raise ConfigurationError(
                "The Whereby API key contains whitespace or control characters (a trailing newline from "
                "a secrets file?): strip it where WHEREBY_INSIGHTS['API_KEY'] is set"
            )
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.host = transport.host_of(self.base_url)  # errors name it, not a URL with credentials
        self.budget = budget
        self.timeout = (connect_timeout, read_timeout)
        self.response_timeout = response_timeout
        self.call_deadline = call_deadline
        self.page_size = page_size
        self.max_pages = max_pages
        self.max_retries = max_retries
        self.max_throttle_retries = max_throttle_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_wait = max_retry_wait
        self._sleep = sleep
        self._interrupt: Callable[[], bool] | None = None
        # The points the API charged are valued at what the budget's latest reading says a call costs.
        self.stats = ApiStats(price=budget.charged if budget is not None else None)
        self.pool = FetchPool(concurrency)  # in_parallel's threads
        self.gate = SendGate()  # our calls in flight
        self.session = transport.new_session(self.base_url, concurrency)
        self.session.headers.update(
            {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT, "Accept": "application/json"}
        )
        self.sender = transport.Sender(self.session, self.base_url)

    @classmethod
    def from_settings(cls, **overrides: Any) -> WherebyClient:
        """A client configured from ``WHEREBY_INSIGHTS`` with the shared rate budget."""
        conf = get_settings()
        options: dict[str, Any] = {
            "connect_timeout": conf.CONNECT_TIMEOUT,
            "read_timeout": conf.READ_TIMEOUT,
            "response_timeout": conf.RESPONSE_TIMEOUT,
            "call_deadline": conf.CALL_DEADLINE,
            "page_size": conf.PAGE_SIZE,
            "max_pages": conf.MAX_PAGES,
            "max_retries": conf.MAX_RETRIES,
            "max_throttle_retries": conf.MAX_THROTTLE_RETRIES,
            "backoff_base": conf.BACKOFF_BASE,
            "backoff_max": conf.BACKOFF_MAX,
            "max_retry_wait": conf.MAX_RETRY_WAIT,
            "concurrency": conf.FETCH_CONCURRENCY,
        }
        options.update(overrides)
        if "budget" not in options:
            options["budget"] = get_budget(conf.API_KEY, conf.BASE_URL)
        return cls(conf.API_KEY, conf.BASE_URL, **options)

    def __repr__(self) -> str:
        return f"<WherebyClient {self.base_url} key=********>"

    def close(self) -> None:
        """Stop the fetch threads and close the HTTP session."""
        self.pool.close()
        self.session.close()

    @property
    def interrupt(self) -> Callable[[], bool] | None:
        """Asked before and during every wait (budget, 429, backoff, a slow body); True stops the client
        with Interrupted. In a fetch thread: the stop flag of its batch (the caller's thread asks the run)."""
        if (worker := self.pool.worker_interrupt()) is not None:
            return worker
        return self._interrupt

    @interrupt.setter
    def interrupt(self, value: Callable[[], bool] | None) -> None:
        self._interrupt = value

    def in_parallel(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        stop_on: tuple[type[BaseException], ...] = (),
        ahead: Ahead[T] | None = None,
    ) -> Generator[tuple[T, R | Exception], None, None]:
        """``(item, fn(item) or the exception it raised)`` in order, up to FETCH_CONCURRENCY at once;
        an exception of a ``stop_on`` class stops the others; ``ahead`` sizes the read-ahead by
        weight. ``fn`` may call this client (never the database): every call still passes the
        rate budget."""
        return self.pool.map(fn, items, self._interrupt, stop_on, ahead)

    # Endpoints -------------------------------------------------------------------------------

    def iter_room_pages(self, *, cursor: str | None = None, **filters: str) -> Iterator[Page]:
        """Pages of ``/insights/rooms``; filters: room_name_exact/_starts_with/_contains, created_from/_to."""
        params = {}
        for name, value in filters.items():
            if name not in ROOM_FILTERS:
                raise TypeError(f"unknown rooms filter {name!r}; expected one of {sorted(ROOM_FILTERS)}")
            if value is not None:
                params[ROOM_FILTERS[name]] = value
        return self._iter_pages(ROOMS, params, cursor)

    def iter_room_session_pages(
        self, room_name: str, *, room_session_id: str | None = None, cursor: str | None = None
    ) -> Iterator[Page]:
        """Pages of ``/insights/room-sessions`` for one room."""
        params = {"roomName": room_name}
        if room_session_id:
            params["roomSessionId"] = room_session_id
        return self._iter_pages(ROOM_SESSIONS, params, cursor)

    def iter_participant_pages(
        self,
        *,
        room_session_id: str | None = None,
        external_id: str | None = None,
        sort_by: str | None = None,
        cursor: str | None = None,
    ) -> Iterator[Page]:
        """Pages of ``/insights/participants`` by session or by external id."""
        if bool(room_session_id) == bool(external_id):
            raise TypeError("give exactly one of room_session_id or external_id")
        params = {"roomSessionId": room_session_id} if room_session_id else {"externalId": str(external_id)}
        if sort_by:
            params["sortBy"] = sort_by
        return self._iter_pages(PARTICIPANTS, params, cursor)

    def iter_rooms(self, **filters: str) -> Iterator[dict[str, Any]]:
        """Every room, page after page."""
        for page in self.iter_room_pages(**filters):
            yield from page.items

    def iter_room_sessions(self, room_name: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every session of one room."""
        for page in self.iter_room_session_pages(room_name, **kwargs):
            yield from page.items

    def iter_participants(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every participant connection of a session or an external id."""
        for page in self.iter_participant_pages(**kwargs):
            yield from page.items

    def get_participant_details(self, room_session_id: str, participant_id: str) -> list[dict[str, Any]]:
        """The detail array of one connection (not paginated)."""
        body = self._get(PARTICIPANT, {"roomSessionId": room_session_id, "participantId": participant_id})
        if not isinstance(body, list):
            raise MalformedResponse(
                f"{PARTICIPANT} answered a {type(body).__name__}, expected a JSON array", endpoint=PARTICIPANT
            )
        return [item for item in body if isinstance(item, dict)] if body else []

    # Paging ----------------------------------------------------------------------------------

    def _iter_pages(self, endpoint: str, params: dict[str, str], cursor: str | None) -> Iterator[Page]:
        seen: set[str] = set()
        pages = 0
        while True:
            query = {**params, "limit": str(self.page_size)}
            if cursor:
                query["cursor"] = cursor
            body = self._get(endpoint, query)
            items, next_cursor = page_parts(endpoint, body)
            pages += 1
            yield Page(items=items, cursor=cursor, next_cursor=next_cursor)
            if next_cursor is None:
                return
            if next_cursor == cursor or next_cursor in seen:
                raise PaginationError(
                    f"{endpoint} repeated cursor {next_cursor[:40]!r}: stopping instead of looping forever",
                    endpoint=endpoint,
                )
            if pages >= self.max_pages:
                raise PaginationError(
                    f"{endpoint} still had more pages after {pages} (MAX_PAGES): stopping", endpoint=endpoint
                )
            seen.add(next_cursor)
            cursor = next_cursor

    # One request, with retries ---------------------------------------------------------------

    def _get(self, endpoint: str, params: dict[str, str]) -> Any:
        failures = 0
        throttles = 0
        # Time spent on this call's attempts and the backoffs between them (not the waits the budget or
        # a 429 asks for): bounded by call_deadline, so a slow server costs a sync a known time.
        spent = CallClock(self.call_deadline)
        while True:
            try:
                response, content, points = self._send(endpoint, params, spent)
            except transport.TRANSIENT_EXCEPTIONS as exc:
                failures += 1
                self.stats.add(requests=1)  # no answer: nothing known to be charged
                cause = transport.describe_failure(exc, self)
                if failures > self.max_retries or spent.left() <= 0:
                    raise TransportError(
                        f"{endpoint}: {cause} ({failures} attempts in {spent.total():.0f} s; "
                        f"a call gets {self.call_deadline:g} s in all, CALL_DEADLINE)",
                        endpoint=endpoint,
                    ) from None
                self._retry_after_failure(endpoint, cause, failures, spent)
                continue
            except transport.TooLarge as exc:
                raise MalformedResponse(f"{endpoint}: {self.host} {exc}", endpoint=endpoint) from None
            except requests.RequestException as exc:
                # Anything else requests raises may quote the request (headers included): name it only.
                raise TransportError(
                    f"{endpoint}: {type(exc).__name__} talking to {self.host}", endpoint=endpoint
                ) from None

            self.stats.add(requests=1, reserved=points, bytes=len(content))
            status = response.status_code
            if status not in UNCHARGED:
                self.stats.charged_call(endpoint)

            if status == 429:
                throttles += 1
                self.stats.add(throttles=1)
                if throttles > self.max_throttle_retries:
                    raise RateLimited(
                        f"{endpoint}: still throttled after {throttles} waits", endpoint=endpoint, status=429
                    )
                backoff = min(self.backoff_max, self.backoff_base * 2 ** (throttles - 1))
                wait = min(throttle_wait(response.headers, content, backoff), self.max_retry_wait)
                logger.info("%s throttled (429): waiting %.1f s as the API asked", endpoint, wait)
                if self.budget is not None:
                    self.budget.pause(wait)
                self.stats.add(retries=1, waited_seconds=wait)
                wait_unless_interrupted(self._sleep, wait, self.interrupt, "the API")
                continue

            if status >= 500:
                failures += 1
                if failures > self.max_retries or spent.left() <= 0:
                    raise ServerError(
                        f"{endpoint} answered {status} on {failures} attempts in a row: {self._excerpt(content)}",
                        endpoint=endpoint,
                        status=status,
                        body_excerpt=self._excerpt(content),
                    )
                self._retry_after_failure(endpoint, f"HTTP {status}", failures, spent)
                continue

            if status >= 400 or status < 200:
                raise client_error(endpoint, status, self._excerpt(content))

            try:
                return parse_json(content)
            except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
                # A body cut short or garbled by a proxy is usually transient: retry within the bound.
                failures += 1
                if failures > self.max_retries or spent.left() <= 0:
                    raise MalformedResponse(
                        f"{endpoint} answered {status} with a body that is not JSON "
                        f"({len(content)} bytes: {self._excerpt(content)})",
                        endpoint=endpoint,
                    ) from None
                self._retry_after_failure(endpoint, "a body that is not JSON", failures, spent)

    def _send(
        self, endpoint: str, params: dict[str, str], spent: CallClock
    ) -> tuple[requests.Response, bytes, int]:
        """One attempt within the budget: reserve, send, read the body, learn what it cost.

        While the endpoint's cost is still being learned the call is sent alone (or with one call of
        the endpoint right after it, fetchpool.SendGate). A call of an endpoint not learned yet reserves
        the most a call may cost; the budget refunds what it did not use once the answer says.
        """
        budget = self.budget
        with self.gate.slot((lambda: budget.sends_alone(endpoint)) if budget else False, endpoint) as slot:
            if budget is not None:
                # A call that learns a cost goes right after the previous answer (the minute's cap
                # still holds it): a short gap holds little of the product's spend, so the fall is
                # nearly the cost, and pacing it would lengthen the gap and blur every sample; the
                # second of a pair goes right after the first (a gap of a few milliseconds).
                rushed = budget.unpaced(endpoint) or slot.paired
                cost = budget.points_for(endpoint)
                waited = budget.acquire(cost, interrupt=self.interrupt, unpaced=rushed)
                if waited:
                    self.stats.add(waited_seconds=waited)
                budget.sending(endpoint)
            slot.sending()
            started = time.monotonic()
            deadline = started + min(self.response_timeout, spent.left())
            try:
                response, content = transport.fetch(self, endpoint, params, deadline)
            except BaseException:
                self._points(endpoint, None, {})  # no answer: nothing learned, no longer in flight
                raise
            finally:
                spent.add(time.monotonic() - started)
            return response, content, self._points(endpoint, response.status_code, response.headers)

    def _points(self, endpoint: str, status: int | None, headers: Any) -> int:
        """What a call cost; the budget learns from the headers (and pauses everyone when few points remain)."""
        # The stats own the calls this client counted: a recount of them comes back to this run only.
        return 1 if self.budget is None else self.budget.answered(endpoint, status, headers, owner=self.stats)

    def _retry_after_failure(self, endpoint: str, what: str, failures: int, spent: CallClock) -> None:
        # Full jitter keeps several workers from retrying in step; a backoff never outlasts the call's time.
        delay = random.uniform(0, min(self.backoff_max, self.backoff_base * 2 ** (failures - 1)))
        delay = min(delay, max(0.0, spent.left()))
        spent.add(delay)
        logger.warning("%s: %s; retry %d of %d in %.2f s", endpoint, what, failures, self.max_retries, delay)
        self.stats.add(retries=1, waited_seconds=delay)
        wait_unless_interrupted(self._sleep, delay, self.interrupt, "the API")

    def _excerpt(self, content: bytes) -> str:
        """A short, single-line, key-free excerpt of a body without control characters."""
        return transport.excerpt(content, self._api_key)
