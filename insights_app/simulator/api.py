"""The four insights endpoints: validation, filters, sorting and cursor paging over an Organisation."""

from __future__ import annotations

from dataclasses import dataclass

from .cursors import CursorError, decode_cursor, encode_cursor, query_fingerprint
from .organisation import Organisation
from .timefmt import parse_instant

DEFAULT_LIMIT = 10
MAX_LIMIT = 100

ROOM_SORT_FIELDS = frozenset(
    {
        "roomName",
        "createdAt",
        "endAt",
        "firstSessionStartedAt",
        "lastSessionStartedAt",
        "totalParticipantMinutes",
        "totalRecorderMinutes",
        "totalStreamerMinutes",
        "totalUniqueParticipants",
        "totalUniqueRecorders",
        "totalUniqueStreamers",
        "totalSessions",
        "rating",
        "totalRatings",
    }
)
SESSION_SORT_FIELDS = frozenset(
    {
        "roomSessionId",
        "startedAt",
        "endedAt",
        "totalParticipantMinutes",
        "totalRecorderMinutes",
        "totalStreamerMinutes",
        "totalUniqueParticipants",
        "totalUniqueRecorders",
        "totalUniqueStreamers",
        "rating",
        "totalRatings",
    }
)
PARTICIPANT_SORT_FIELDS = frozenset({"joinedAt", "leftAt"})


@dataclass
class ApiResult:
    """What an endpoint answers: a status and a JSON-able body."""

    status: int
    body: object
    cursor_in: str | None = None  # the cursor the client sent (for the repeat-cursor fault)


class BadRequest(Exception):
    """A 400 with a message."""


def error(status: int, message: str) -> ApiResult:
    """A JSON error answer."""
    return ApiResult(status, {"error": message})


def parse_limit(query: dict[str, str]) -> int:
    """``limit`` as an integer 1..100 (default 10)."""
    text = query.get("limit")
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise BadRequest(f'"limit" must be an integer between 1 and {MAX_LIMIT}')
    return int(text)


def parse_sort(query: dict[str, str], allowed: frozenset[str]) -> tuple[str, bool] | None:
    """``sortBy=field:asc|desc`` (direction defaults to asc); None when absent."""
    text = query.get("sortBy")
    if text is None or text == "":
        return None
    field, _, direction = text.partition(":")
    direction = direction or "asc"
    if field not in allowed:
        raise BadRequest(f'"sortBy" field must be one of {", ".join(sorted(allowed))}')
    if direction not in ("asc", "desc"):
        raise BadRequest('"sortBy" direction must be "asc" or "desc"')
    return field, direction == "desc"


def sort_items(items: list[dict], sort: tuple[str, bool] | None) -> list[dict]:
    """Stable sort on one field; nulls last ascending, first descending."""
    if sort is None:
        return items
    field, descending = sort
    return sorted(
        items, key=lambda item: (0, item[field]) if item.get(field) is not None else (1,), reverse=descending
    )


def paginate(secret: bytes, path: str, query: dict[str, str], items: list[dict]) -> ApiResult:
    """One page of ``items`` after the offset in ``cursor``, with the next cursor or null."""
    limit = parse_limit(query)
    fingerprint = query_fingerprint(path, query)
    token = query.get("cursor") or None
    offset = 0
    if token is not None:
        try:
            offset = decode_cursor(secret, token, fingerprint)
        except CursorError as exc:
            raise BadRequest(str(exc)) from exc
    # Copies: the organisation's own items stay as they are (a scripted one may hold non-objects).
    page = [dict(item) if isinstance(item, dict) else item for item in items[offset : offset + limit]]
    following = offset + limit
    cursor = encode_cursor(secret, following, fingerprint) if following < len(items) else None
    return ApiResult(200, {"cursor": cursor, "results": page}, cursor_in=token)


def rooms(org: Organisation, secret: bytes, query: dict[str, str]) -> ApiResult:
    """``/insights/rooms``: filters on name and creation date."""
    sort = parse_sort(query, ROOM_SORT_FIELDS)
    items = org.room_item_views()
    exact = query.get("roomName[exact]")
    starts = query.get("roomName[startsWith]")
    contains = query.get("roomName[contains]")
    bounds: list[int | None] = []
    for key in ("createdAt[from]", "createdAt[to]"):
        text = query.get(key)
        if text is None:
            bounds.append(None)
            continue
        try:
            bounds.append(parse_instant(text))
        except (ValueError, TypeError) as exc:
            raise BadRequest(f'"{key}" must be an ISO-8601 date-time') from exc
    if exact is not None:
        items = [r for r in items if r["roomName"] == exact]
    if starts is not None:
        items = [r for r in items if r["roomName"].startswith(starts)]
    if contains is not None:
        items = [r for r in items if contains in r["roomName"]]
    if bounds[0] is not None or bounds[1] is not None:
        low, high = bounds
        items = [
            r
            for r in items
            if (low is None or parse_instant(r["createdAt"]) >= low)
            and (high is None or parse_instant(r["createdAt"]) <= high)
        ]
    return paginate(secret, "/insights/rooms", query, sort_items(items, sort))


def room_sessions(org: Organisation, secret: bytes, query: dict[str, str]) -> ApiResult:
    """``/insights/room-sessions``: sessions of one room (an unknown room has none)."""
    room_name = query.get("roomName")
    if not room_name:
        raise BadRequest('"roomName" is required')
    sort = parse_sort(query, SESSION_SORT_FIELDS)
    items = org.session_items(room_name)
    session_id = query.get("roomSessionId")
    if session_id:
        items = [s for s in items if s["roomSessionId"] == session_id]
    return paginate(secret, "/insights/room-sessions", query, sort_items(items, sort))


def participants(org: Organisation, secret: bytes, query: dict[str, str]) -> ApiResult:
    """``/insights/participants``: by session, by external id, or both."""
    session_id = query.get("roomSessionId") or None
    external_id = query.get("externalId") or None
    if session_id is None and external_id is None:
        raise BadRequest('either "roomSessionId" or "externalId" is required')
    sort = parse_sort(query, PARTICIPANT_SORT_FIELDS)
    if session_id is not None:
        items = org.participant_items(session_id)
        if external_id is not None:
            items = [p for p in items if p["externalId"] == external_id]
    else:
        assert external_id is not None  # one of the two was required above
        items = org.participant_items_by_external_id(external_id)
    return paginate(secret, "/insights/participants", query, sort_items(items, sort))


def participant(org: Organisation, query: dict[str, str]) -> ApiResult:
    """``/insights/participant``: the detail array of one connection (not paginated)."""
    session_id = query.get("roomSessionId")
    participant_id = query.get("participantId")
    if not session_id or not participant_id:
        raise BadRequest('"roomSessionId" and "participantId" are required')
    try:
        return ApiResult(200, org.detail_items(session_id, participant_id))
    except KeyError:
        return error(404, "participant not found")


def dispatch(org: Organisation, secret: bytes, path: str, query: dict[str, str]) -> ApiResult:
    """Route an authenticated GET to its endpoint; 400 for bad parameters, 404 for other paths."""
    try:
        if path == "/insights/rooms":
            return rooms(org, secret, query)
        if path == "/insights/room-sessions":
            return room_sessions(org, secret, query)
        if path == "/insights/participants":
            return participants(org, secret, query)
        if path == "/insights/participant":
            return participant(org, query)
    except BadRequest as exc:
        return error(400, str(exc))
    return error(404, "not found")
