"""The API's list endpoints, their filters, and one page of a listing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ROOMS = "/insights/rooms"
ROOM_SESSIONS = "/insights/room-sessions"
PARTICIPANTS = "/insights/participants"
PARTICIPANT = "/insights/participant"
ROOM_FILTERS = {
    "room_name_exact": "roomName[exact]",
    "room_name_starts_with": "roomName[startsWith]",
    "room_name_contains": "roomName[contains]",
    "created_from": "createdAt[from]",
    "created_to": "createdAt[to]",
}


@dataclass(frozen=True)
class Page:
    """One page of a list endpoint: its items and the cursor of the next page (None on the last)."""

    items: list[dict[str, Any]]
    cursor: str | None
    next_cursor: str | None
