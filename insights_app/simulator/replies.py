"""What the simulator's server writes: a reply, the record of a served request, compact JSON."""

from __future__ import annotations

import json
from typing import NamedTuple


class RequestRecord(NamedTuple):
    """One served request: monotonic time, endpoint path, query, status (0 = dropped), points charged."""

    time: float
    path: str
    query: dict[str, str]
    status: int
    points: int = 0


class Reply(NamedTuple):
    """A response to write: status, headers, body, and how to deliver it."""

    status: int
    headers: dict[str, str]
    body: bytes
    mode: str = "normal"  # "normal", "drop" (no response), "truncate" (half the body) or "trickle"
    trickle: tuple[float, int] = (1.0, 1)  # seconds between writes, bytes per write
    points: int = 0  # what the request cost the organisation


def json_bytes(value: object) -> bytes:
    """Compact UTF-8 JSON (all ASCII, with escapes, when a string holds half a character: a real
    server writes an unpaired surrogate as a ``\\udXXX`` escape)."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":")).encode()
