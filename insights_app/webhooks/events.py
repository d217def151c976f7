"""A verified delivery's JSON turned into the columns of a WebhookEvent, whatever shape it came in."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime

JOINED = "room.client.joined"
LEFT = "room.client.left"
SESSION_STARTED = "room.session.started"
SESSION_ENDED = "room.session.ended"


class PayloadError(Exception):
    """The body is signed correctly but is not a Whereby event (the message says what is wrong)."""


@dataclass(frozen=True)
class ParsedEvent:
    """What the intake stores about one event before any work is done."""

    event_id: str
    type: str
    api_version: str
    created_at: datetime | None
    room_name: str
    room_session_id: str
    participant_id: str
    raw: dict[str, Any]


def text(value: Any, limit: int) -> str:
    """A string field as text (anything else as empty), cut to the column's length."""
    return value[:limit] if isinstance(value, str) else ""


def parse_instant(value: Any) -> datetime | None:
    """An ISO-8601 ``createdAt`` as an aware UTC datetime; None when missing or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        return None
    if parsed is None:
        return None
    return parsed.replace(tzinfo=parsed.tzinfo or UTC).astimezone(UTC)


def parse_event(body: bytes) -> ParsedEvent:
    """Parse a delivery body; PayloadError when it is not a JSON object with an ``id`` and a ``type``."""
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise PayloadError("the body is not JSON") from None
    if not isinstance(raw, dict):
        raise PayloadError("the body is not a JSON object")
    event_id, kind = raw.get("id"), raw.get("type")
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > 255:
        raise PayloadError("the event has no usable id")
    if not isinstance(kind, str) or not kind.strip() or len(kind) > 64:
        raise PayloadError("the event has no usable type")
    data = data_of(raw)
    return ParsedEvent(
        event_id=event_id.strip(),
        type=kind.strip(),
        api_version=text(raw.get("apiVersion"), 32),
        created_at=parse_instant(raw.get("createdAt")),
        room_name=text(data.get("roomName"), 512),
        room_session_id=text(data.get("roomSessionId"), 255),
        participant_id=text(data.get("participantId"), 255),
        raw=raw,
    )


def data_of(raw: dict[str, Any]) -> dict[str, Any]:
    """The event's ``data`` object ({} when missing or not an object)."""
    data = raw.get("data")
    return data if isinstance(data, dict) else {}


def count(value: Any) -> int | None:
    """A non-negative integer count (``numClients``), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return int(value)
