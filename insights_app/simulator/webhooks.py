"""The simulator's webhooks: signed, documented in-room events for its live activity, with faults.

As the organisation's clock moves, every session start and end and every connection join and
leave in between becomes an event shaped like Whereby's (``id``, ``apiVersion``, ``createdAt``,
``type``, ``data``), posted with ``Whereby-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``
over ``<t>.<raw body>``. A 5xx or a timeout is retried twice with a short backoff, like Whereby.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from random import Random
from typing import Any

from .model import Session
from .organisation import Organisation
from .timefmt import format_ms

logger = logging.getLogger(__name__)
API_VERSION = "1.0"
SUBDOMAIN = "simulated"
RETRY_BACKOFF = (0.5, 1.0)  # Whereby retries a 5xx twice with a short backoff
TIMEOUT = 5.0


@dataclass(frozen=True)
class WebhookFaults:
    """Delivery faults: duplicates, out-of-order pairs, a delay before each post, bad signatures."""

    duplicate_rate: float = 0.0
    reorder_rate: float = 0.0
    delay_ms: int = 0
    bad_signature_rate: float = 0.0
    seed: int = 1

    def __post_init__(self) -> None:
        for name in ("duplicate_rate", "reorder_rate", "bad_signature_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.delay_ms < 0:
            raise ValueError("delay_ms must be >= 0")


@dataclass
class Delivery:
    """One post as sent: the event id and type, and the final status (0 = no answer)."""

    event_id: str
    type: str
    status: int
    attempts: int
    signed_ok: bool


@dataclass(order=True)
class _Pending:
    at: int
    rank: int
    event: dict[str, Any] = field(compare=False)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value Whereby sends for ``body`` at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _event_id(seed: int, *parts: str) -> str:
    return str(uuid.UUID(hashlib.sha256(":".join((str(seed), *parts)).encode()).hexdigest()[:32]))


def _present(session: Session, at: int) -> list:
    return [c for c in session.conns if c.joined <= at < c.left]


def events_between(org: Organisation, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
    """Every in-room event with a time in (start_ms, end_ms], in time order (ties: start, join, leave, end)."""
    with org._lock:
        return _events_between(org, start_ms, end_ms)


def _events_between(org: Organisation, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
    pending: list[_Pending] = []
    seed = org.spec.seed
    for room in org._builder.rooms:
        # Sessions start in order and last at most a few hours: look back far enough for their ends.
        first = bisect.bisect_left(room.sessions, start_ms - 4 * 3600_000, key=lambda s: s.start)
        last = bisect.bisect_right(room.sessions, end_ms, key=lambda s: s.start)
        for session in room.sessions[first:last]:
            base = {"meetingId": _event_id(seed, "meeting", session.session_id)[:8], "roomName": room.name,
                    "subdomain": SUBDOMAIN}  # fmt: skip
            if start_ms < session.start <= end_ms:
                pending.append(_Pending(session.start, 0, _event(seed, "room.session.started", session.start,
                                                                 base, session.session_id)))  # fmt: skip
            for conn in session.conns:
                for kind, at, rank in (
                    ("room.client.joined", conn.joined, 1),
                    ("room.client.left", conn.left, 2),
                ):
                    if not start_ms < at <= end_ms:
                        continue
                    present = _present(session, at)
                    by_role = Counter(c.role for c in present)
                    data = {
                        **base,
                        "roomSessionId": session.session_id,
                        "participantId": conn.participant_id,
                        "displayName": conn.display_name,
                        "externalId": conn.external_id,
                        "metadata": None,
                        "roleName": conn.role,
                        "numClients": len(present),
                        "numClientsByRoleName": dict(sorted(by_role.items())),
                        "isDialIn": False,
                    }
                    pending.append(_Pending(at, rank, _event(seed, kind, at, data, conn.participant_id)))
            if start_ms < session.end <= end_ms:
                pending.append(_Pending(session.end, 3, _event(seed, "room.session.ended", session.end, base,
                                                               session.session_id)))  # fmt: skip
    return [p.event for p in sorted(pending)]


def _event(seed: int, kind: str, at: int, data: dict[str, Any], key: str) -> dict[str, Any]:
    return {
        "id": _event_id(seed, kind, key),
        "apiVersion": API_VERSION,
        "createdAt": format_ms(at),
        "type": kind,
        "data": data,
    }


def live_state(org: Organisation) -> dict[str, set[str]]:
    """Ground truth of presence at ``now``: room name -> participant ids connected."""
    now = org.now_ms
    rooms: dict[str, set[str]] = {}
    with org._lock:
        for room in org._builder.rooms:
            index = bisect.bisect_right(room.sessions, now, key=lambda s: s.start)
            for session in room.sessions[max(0, index - 3) : index]:
                for conn in _present(session, now):
                    rooms.setdefault(room.name, set()).add(conn.participant_id)
    return rooms


class WebhookSender:
    """Posts the organisation's live events to ``url`` on a background thread as its clock moves."""

    def __init__(
        self, organisation: Organisation, url: str, secret: str, faults: WebhookFaults | None = None
    ):
        if not url.startswith(("http://", "https://")):
            raise ValueError("the webhook URL must start with http:// or https://")
        if not secret:
            raise ValueError("the webhook secret must not be empty")
        self.organisation = organisation
        self.url = url
        self._secret = secret
        self.faults = faults or WebhookFaults()
        self._rng = Random(f"whereby-sim-webhooks:{self.faults.seed}")
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._held: dict[str, Any] | None = None
        self._last_ms = organisation.now_ms
        self._lock = threading.Lock()
        self.deliveries: list[Delivery] = []
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> WebhookSender:
        """Listen to the organisation's clock and post from a background thread."""
        self.organisation.add_listener(self._on_advance)
        self._thread = threading.Thread(target=self._run, name="whereby-simulator-webhooks", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening; events not yet posted are dropped."""
        self.organisation.remove_listener(self._on_advance)
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every event so far has been posted (a held out-of-order event is released first)."""
        with self._lock:
            if self._held is not None:
                self._queue.put(self._held)
                self._held = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.02)
        return False

    # -- producing -----------------------------------------------------------------------------------
    def _on_advance(self, now_ms: int) -> None:
        with self._lock:
            events = events_between(self.organisation, self._last_ms, now_ms)
            self._last_ms = now_ms
            for event in events:
                self._emit(event)

    def _emit(self, event: dict[str, Any]) -> None:
        faults = self.faults
        if self._held is not None:  # the held event goes out after the one that followed it
            self._queue.put(event)
            self._queue.put(self._held)
            self._held = None
        elif faults.reorder_rate and self._rng.random() < faults.reorder_rate:
            self._held = event
            return
        else:
            self._queue.put(event)
        if faults.duplicate_rate and self._rng.random() < faults.duplicate_rate:
            self._queue.put(event)

    # -- delivering ----------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            event = self._queue.get()
            try:
                if event is None:
                    return
                if self.faults.delay_ms:
                    time.sleep(self.faults.delay_ms / 1000)
                self._post(event)
            except Exception:  # a sender bug must not stop the deliveries that follow
                logger.exception("simulator webhook delivery failed")
            finally:
                self._queue.task_done()

    def _post(self, event: dict[str, Any]) -> None:
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        signed_ok = not (
            self.faults.bad_signature_rate and self._rng.random() < self.faults.bad_signature_rate
        )
        status, attempts = 0, 0
        for wait in (0.0, *RETRY_BACKOFF):
            time.sleep(wait)
            attempts += 1
            header = sign(self._secret if signed_ok else self._secret + "-wrong", int(time.time()), body)
            request = urllib.request.Request(  # noqa: S310  (http(s) only: checked in __init__)
                self.url,
                data=body,
                method="POST",
                headers={"Content-Type": "application/json", "Whereby-Signature": header},
            )
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                    status = response.status
            except urllib.error.HTTPError as error:
                status = error.code
            except (urllib.error.URLError, OSError):
                status = 0
            if status and status < 500:
                break
        with self._lock:
            self.deliveries.append(Delivery(event["id"], event["type"], status, attempts, signed_ok))
