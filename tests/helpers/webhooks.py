"""Helpers for the webhook tests: sign and post deliveries over real HTTP, build documented events."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import requests

from insights_app.simulator.webhooks import sign

SECRET = "whsec-test-4f1c2a9e7d"
WEBHOOK_PATH = "/insights/webhooks/whereby/"


def iso(moment: datetime) -> str:
    """An instant the way Whereby writes it."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def event(
    kind: str, *, at: datetime, room: str = "/standup", event_id: str | None = None, **data: Any
) -> dict:
    """A documented in-room event."""
    return {
        "id": event_id or str(uuid.uuid4()),
        "apiVersion": "1.0",
        "createdAt": iso(at),
        "type": kind,
        "data": {"meetingId": "m-1", "roomName": room, "subdomain": "acme", **data},
    }


def client_event(kind: str, *, at: datetime, participant: str, session: str = "sess-1", **extra: Any) -> dict:
    """room.client.joined / left with the documented fields."""
    fields = {
        "roomSessionId": session,
        "participantId": participant,
        "displayName": f"Person {participant}",
        "externalId": None,
        "metadata": None,
        "roleName": "visitor",
        "numClients": 1,
        "numClientsByRoleName": {"visitor": 1},
        "isDialIn": False,
    }
    fields.update(extra)
    room = fields.pop("room", "/standup")
    return event(kind, at=at, room=room, **fields)


def body_of(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def post(url: str, payload: dict | bytes, *, secret: str = SECRET, timestamp: int | None = None,
         header: str | None = None, session: requests.Session | None = None,
         timeout: float = 10) -> requests.Response:  # fmt: skip
    """POST one delivery signed like Whereby (``header`` overrides the signature)."""
    body = payload if isinstance(payload, bytes) else body_of(payload)
    headers = {"Content-Type": "application/json"}
    signature = header if header is not None else sign(secret, timestamp or int(time.time()), body)
    if signature:
        headers["Whereby-Signature"] = signature
    return (session or requests).post(url, data=body, headers=headers, timeout=timeout)
