"""A verified delivery's JSON turned into the columns of a WebhookEvent, whatever shape it came in."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils.dateparse import parse_datetime

JOINED = "room.client.joined"
LEFT = "room.client.left"
SESSION_STARTED = "room.session.started"
SESSION_ENDED = "room.session.ended"

# Whereby's events are three levels deep; a body much deeper is not one of them (and could exhaust the stack).
MAX_DEPTH = 32
# A count above this is no count of people (and would not fit the integer columns of every backend).
MAX_COUNT = 2**31 - 1
# NUL and lone surrogates: JSON may carry them, PostgreSQL refuses them (text and jsonb alike).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


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
    """An ISO-8601 ``createdAt`` as an aware UTC datetime; None when missing or unreadable.

    An instant whose UTC form falls outside Python's years 1-9999 becomes the nearest end of that
    range (``bounded_instant`` then brings it near the time received).
    """
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        return None
    if parsed is None:
        return None
    parsed = parsed.replace(tzinfo=parsed.tzinfo or UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        offset = parsed.utcoffset()
        ahead_of_utc = offset is not None and offset > timedelta(0)
        return (datetime.min if ahead_of_utc else datetime.max).replace(tzinfo=UTC)


def bounded_instant(
    created: datetime | None, received: datetime, *, ahead: timedelta, oldest: timedelta
) -> datetime | None:
    """``createdAt`` kept near the time received, so a wrong clock cannot schedule or order by years.

    Whereby signs a delivery when it sends it, and the signature's ``t`` must be within the
    tolerance (``ahead``) of our clock; an event cannot have happened after that, so a later
    ``createdAt`` becomes the time received. One older than ``oldest`` becomes that bound: still
    older than everything recent, which is all the ordering needs.
    """
    if created is None:
        return None
    if created > received + ahead:
        return received
    return max(created, received - oldest)


def _number_or_text(literal: str, kind: type[int] | type[float]) -> int | float | str:
    """A JSON number as Python's, or as its text when no database column could hold it exactly.

    ``1e999`` (infinite as a float) and integers too long for Python's conversion stay text, so
    the event is kept as received instead of being refused by the database.
    """
    try:
        value = kind(literal)
    except ValueError:
        return literal
    return value if not isinstance(value, float) or math.isfinite(value) else literal


def clean_text(value: str) -> str:
    """The string with NUL and lone surrogates replaced by U+FFFD (storable in every database)."""
    return _UNSTORABLE.sub("\ufffd", value)


def _clean_leaf(value: Any) -> Any:
    return clean_text(value) if isinstance(value, str) else value


def sanitised(root: Any) -> Any:
    """A copy of decoded JSON whose strings (keys too) are storable; PayloadError when too deep.

    Iterative, so no depth reaches Python's recursion limit here.
    """
    if not isinstance(root, dict | list):
        return _clean_leaf(root)
    top: dict[str, Any] | list[Any] = {} if isinstance(root, dict) else []
    stack: list[tuple[Any, Any, int]] = [(root, top, 1)]
    while stack:
        source, target, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise PayloadError(f"the body is nested deeper than {MAX_DEPTH} levels")
        items: Any = source.items() if isinstance(source, dict) else enumerate(source)
        for key, value in items:
            if isinstance(value, dict | list):
                child: Any = {} if isinstance(value, dict) else []
                stack.append((value, child, depth + 1))
            else:
                child = _clean_leaf(value)
            if isinstance(target, dict):
                target[clean_text(key)] = child  # JSON object keys are strings
            else:
                target.append(child)
    return top


def decode(body: bytes) -> Any:
    """The body's JSON, sanitised: non-finite numbers as their text, strings storable, depth bounded."""
    try:
        decoded = json.loads(
            body,
            parse_constant=str,  # NaN, Infinity, -Infinity: not JSON numbers; kept as text
            parse_float=lambda text: _number_or_text(text, float),
            parse_int=lambda text: _number_or_text(text, int),
        )
    except RecursionError:
        raise PayloadError(f"the body is nested deeper than {MAX_DEPTH} levels") from None
    except (UnicodeDecodeError, ValueError):
        raise PayloadError("the body is not JSON") from None
    return sanitised(decoded)


def parse_event(body: bytes) -> ParsedEvent:
    """Parse a delivery body; PayloadError when it is not a JSON object with an ``id`` and a ``type``."""
    raw = decode(body)
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
    """A count of people (``numClients``): a number from 0 to MAX_COUNT, else None (unknown)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not 0 <= value <= MAX_COUNT:  # NaN fails this too
        return None
    return int(value)
