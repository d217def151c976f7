"""The simulator's webhooks: documented, signed payloads over real HTTP, Whereby's retries, and faults."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from insights_app.simulator import OrgSpec, generate_organisation
from insights_app.simulator.webhooks import WebhookFaults, WebhookSender, events_between, live_state
from insights_app.webhooks.signature import SignatureError, verify

SECRET = "sim-webhook-secret"
CLIENT_FIELDS = {"meetingId", "roomName", "subdomain", "roomSessionId", "participantId", "displayName",
                 "externalId", "metadata", "roleName", "numClients", "numClientsByRoleName", "isDialIn"}  # fmt: skip


class Receiver:
    """A tiny HTTP endpoint recording deliveries; answers ``statuses`` in turn, then 202."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses = list(statuses or [])
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def events(self) -> list[dict]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def live_org():
    return generate_organisation(
        OrgSpec(
            seed=5,
            rooms=5,
            sessions_per_room=40,
            participants_per_session=4,
            days=3,
            live=True,
            now="2026-11-02T08:00:00Z",
        )
    )


def test_events_are_documented_and_in_time_order():
    org = live_org()
    start = org.now_ms
    org.advance(6 * 3600)
    events = events_between(org, start, org.now_ms)
    kinds = {e["type"] for e in events}
    assert kinds == {"room.client.joined", "room.client.left", "room.session.started", "room.session.ended"}
    assert [e["createdAt"] for e in events] == sorted(e["createdAt"] for e in events)
    for e in events:
        assert set(e) == {"id", "apiVersion", "createdAt", "type", "data"}
        if e["type"].startswith("room.client."):
            assert set(e["data"]) == CLIENT_FIELDS
        else:
            assert set(e["data"]) == {"meetingId", "roomName", "subdomain"}  # no roomSessionId
    assert len({e["id"] for e in events}) == len(events)
    # numClients after each event equals the simulator's own count at that instant.
    last = events[-1]
    if last["type"].startswith("room.client."):
        assert last["data"]["numClients"] >= 0


@pytest.mark.integration  # serves a webhook receiver
def test_sender_posts_signed_events_for_the_live_activity(receiver):
    org = live_org()
    sender = WebhookSender(org, receiver.url, SECRET).start()
    try:
        for _ in range(240):
            org.advance(60)
        assert sender.flush(30)
    finally:
        sender.stop()
    assert receiver.received
    for headers, body in receiver.received:
        verify(SECRET, headers["Whereby-Signature"], body, now=time.time(), tolerance=300)
    # Replaying the events gives the simulator's live state.
    present: dict[str, set[str]] = {}
    for e in receiver.events():
        d = e["data"]
        if e["type"] == "room.client.joined":
            present.setdefault(d["roomName"], set()).add(d["participantId"])
        elif e["type"] == "room.client.left":
            present.get(d["roomName"], set()).discard(d["participantId"])
    assert {k: v for k, v in present.items() if v} == live_state(org)


@pytest.mark.integration  # serves a webhook receiver
def test_faults_duplicate_reorder_and_bad_signatures(receiver):
    org = live_org()
    faults = WebhookFaults(duplicate_rate=0.3, reorder_rate=0.3, bad_signature_rate=0.2, seed=3)
    sender = WebhookSender(org, receiver.url, SECRET, faults).start()
    try:
        org.advance(6 * 3600)
        assert sender.flush(30)
    finally:
        sender.stop()
    events = receiver.events()
    ids = [e["id"] for e in events]
    assert len(ids) > len(set(ids))  # duplicates
    assert [e["createdAt"] for e in events] != sorted(e["createdAt"] for e in events)  # out of order
    bad = 0
    for headers, body in receiver.received:
        try:
            verify(SECRET, headers["Whereby-Signature"], body, now=time.time(), tolerance=300)
        except SignatureError:
            bad += 1
    assert 0 < bad < len(receiver.received)
    assert bad == sum(1 for d in sender.deliveries if not d.signed_ok)


@pytest.mark.integration  # serves a webhook receiver
def test_a_5xx_is_retried_twice_like_whereby():
    receiver = Receiver(statuses=[500, 503, 500])
    try:
        org = live_org()
        sender = WebhookSender(org, receiver.url, SECRET).start()
        org.advance(6 * 3600)
        assert sender.flush(60)
        sender.stop()
    finally:
        receiver.server.shutdown()
    first = sender.deliveries[0]
    assert (first.attempts, first.status) == (3, 500)
    assert all(d.attempts == 1 and d.status == 202 for d in sender.deliveries[1:])


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--webhook-url", "http://127.0.0.1:9/hook", "--webhook-secret", "s"], "--live"),
        (["--live", "--webhook-url", "http://127.0.0.1:9/hook"], "secret"),
        (["--live", "--webhook-url", "ftp://x/hook", "--webhook-secret", "s"], "http"),
        (["--live", "--webhook-url", "http://x/", "--webhook-secret", "s", "--webhook-duplicate-rate", "2"],
         "duplicate_rate"),
    ],
)  # fmt: skip
def test_bad_webhook_flags_are_command_errors(flags, message, monkeypatch):
    monkeypatch.delenv("WHEREBY_WEBHOOK_SECRET", raising=False)
    with pytest.raises(CommandError, match=message):
        call_command("insights_simulator", "--rooms", "2", "--sessions-per-room", "1", *flags)
