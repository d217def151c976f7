"""The project's own JSON Schemas (draft 2020-12) for the insights answers, and the OpenAPI errata.

Ours encode what API_NOTES.md says the API really sends (nullable where it may send null,
unknown extra fields allowed). ``OPENAPI_ERRATA`` lists, explicitly, where Whereby's
``openapi.json`` is wrong; ``openapi_response_schema`` applies them to the spec's own schema.
"""

from __future__ import annotations

import copy

TIMESTAMP = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"}
NULLABLE_TIMESTAMP = {"anyOf": [TIMESTAMP, {"type": "null"}]}
COUNT = {"type": "integer", "minimum": 0}
NULLABLE_STRING = {"type": ["string", "null"]}
RATING = {"type": ["number", "null"], "minimum": 1, "maximum": 5}
TOTAL_RATINGS = {"type": ["integer", "null"], "minimum": 0}
CURSOR = {"type": ["string", "null"]}

TOTALS = {
    "totalParticipantMinutes": COUNT,
    "totalRecorderMinutes": COUNT,
    "totalStreamerMinutes": COUNT,
    "totalUniqueParticipants": COUNT,
    "totalUniqueRecorders": COUNT,
    "totalUniqueStreamers": COUNT,
}

ROOM = {
    "type": "object",
    "required": [
        "roomName",
        "createdAt",
        "endAt",
        "firstSessionStartedAt",
        "lastSessionStartedAt",
        *TOTALS,
        "totalSessions",
    ],
    "properties": {
        "roomName": {"type": "string", "pattern": "^/"},
        "createdAt": TIMESTAMP,
        "endAt": TIMESTAMP,
        "firstSessionStartedAt": NULLABLE_TIMESTAMP,
        "lastSessionStartedAt": NULLABLE_TIMESTAMP,
        **TOTALS,
        "totalSessions": COUNT,
        "rating": RATING,
        "totalRatings": TOTAL_RATINGS,
    },
    "additionalProperties": True,
}

ROOM_SESSION = {
    "type": "object",
    "required": ["roomSessionId", "roomName", "startedAt", "endedAt", *TOTALS],
    "properties": {
        "roomSessionId": {"type": "string", "minLength": 1},
        "roomName": {"type": "string", "pattern": "^/"},
        "startedAt": TIMESTAMP,
        "endedAt": NULLABLE_TIMESTAMP,
        **TOTALS,
        "rating": RATING,
        "totalRatings": TOTAL_RATINGS,
    },
    "additionalProperties": True,
}

ROLES = [
    "owner",
    "member",
    "host",
    "visitor",
    "granted_visitor",
    "viewer",
    "granted_viewer",
    "recorder",
    "streamer",
    "captioner",
]

PARTICIPANT = {
    "type": "object",
    "required": [
        "roomSessionId",
        "participantId",
        "deviceId",
        "userId",
        "roleName",
        "displayName",
        "joinedAt",
        "leftAt",
        "externalId",
    ],
    "properties": {
        "roomSessionId": {"type": "string", "minLength": 1},
        "participantId": {"type": "string", "minLength": 1},
        "deviceId": NULLABLE_STRING,
        "userId": NULLABLE_STRING,
        "roleName": {"type": "string", "enum": ROLES},
        "displayName": {"type": "string"},
        "joinedAt": TIMESTAMP,
        "leftAt": NULLABLE_TIMESTAMP,
        "externalId": NULLABLE_STRING,
        "rating": RATING,
        "tags": {"type": ["array", "null"], "items": {"type": "string"}},
        "comment": NULLABLE_STRING,
    },
    "additionalProperties": True,
}

SAMPLE_SERIES = {"type": "array", "items": {"type": ["number", "null"], "minimum": 0}}
LOSS_SERIES = {"type": "array", "items": {"type": ["number", "null"], "minimum": 0, "maximum": 100}}

DETAIL = {
    "type": "object",
    "required": ["displayName", "userRole", "userAgent", "timeStamp", "sampleRateMs", "samples", "events"],
    "properties": {
        "displayName": {"type": "string"},
        "userRole": {"type": "string", "enum": ROLES},
        "userAgent": {"type": "string"},
        "timeStamp": TIMESTAMP,
        "sampleRateMs": {"type": "number", "exclusiveMinimum": 0},
        "samples": {
            "type": "object",
            "required": ["packetLossSend", "packetLossRecv", "bitrateSend", "bitrateRecv"],
            "properties": {
                "packetLossSend": LOSS_SERIES,
                "packetLossRecv": LOSS_SERIES,
                "bitrateSend": SAMPLE_SERIES,
                "bitrateRecv": SAMPLE_SERIES,
            },
        },
        "events": {"type": "array"},
    },
    "additionalProperties": True,
}


def page_of(item: dict) -> dict:
    """A ``{"cursor": ..., "results": [...]}`` page of ``item``."""
    return {
        "type": "object",
        "required": ["cursor", "results"],
        "properties": {"cursor": CURSOR, "results": {"type": "array", "items": item}},
        "additionalProperties": False,
    }


ROOMS_PAGE = page_of(ROOM)
ROOM_SESSIONS_PAGE = page_of(ROOM_SESSION)
PARTICIPANTS_PAGE = page_of(PARTICIPANT)
PARTICIPANT_DETAILS = {"type": "array", "items": DETAIL}
THROTTLE_BODY = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "data": {
            "type": "object",
            "required": ["msLeft"],
            "properties": {"msLeft": {"type": "integer", "minimum": 0}},
        },
    },
}
ERROR_BODY = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}

RESPONSE_SCHEMAS = {
    "/insights/rooms": ROOMS_PAGE,
    "/insights/room-sessions": ROOM_SESSIONS_PAGE,
    "/insights/participants": PARTICIPANTS_PAGE,
    "/insights/participant": PARTICIPANT_DETAILS,
}

# What Whereby's openapi.json gets wrong, per API_NOTES.md: (endpoint, where, what we change, why).
# Paths into the 200 response schema: "items" is the list item (results[] or the array itself).
OPENAPI_ERRATA: tuple[tuple[str, str, str, str], ...] = (
    (
        "/insights/rooms",
        "cursor",
        "type string -> string|null",
        "the last page's cursor is null (spec's own description)",
    ),
    ("/insights/room-sessions", "cursor", "type string -> string|null", "same"),
    ("/insights/participants", "cursor", "type string -> string|null", "same"),
    ("/insights/rooms", "items.firstSessionStartedAt", "nullable", "a room never used has no session"),
    ("/insights/rooms", "items.lastSessionStartedAt", "nullable", "API_NOTES: null for a room never used"),
    (
        "/insights/room-sessions",
        "items.required",
        "createdAt,endAt -> startedAt,endedAt",
        "API_NOTES: the spec's required list names the wrong fields",
    ),
    ("/insights/room-sessions", "items.endedAt", "nullable", "API_NOTES: null while the session is ongoing"),
    ("/insights/participants", "items.leftAt", "nullable", "API_NOTES: null while connected"),
    ("/insights/participants", "items.externalId", "nullable", "API_NOTES: may be null"),
    ("/insights/participants", "items.deviceId", "nullable", "API_NOTES: may be null"),
    ("/insights/participants", "items.userId", "nullable", "API_NOTES: may be null"),
)


def _items(schema: dict) -> dict:
    """The item schema of a page (``results.items``) or of an array answer (``items``)."""
    if schema.get("type") == "array":
        return schema["items"]
    return schema["properties"]["results"]["items"]


def _make_nullable(prop: dict) -> None:
    """Let a property also be null."""
    kind = prop.get("type")
    if isinstance(kind, list):
        if "null" not in kind:
            kind.append("null")
    elif kind is not None:
        prop["type"] = [kind, "null"]


def openapi_response_schema(spec: dict, path: str, *, errata: bool = True) -> dict:
    """The 200 ``application/json`` schema of ``GET path`` from ``openapi.json``, with the errata applied."""
    operation = spec["paths"][path]["get"]
    schema = copy.deepcopy(operation["responses"]["200"]["content"]["application/json"]["schema"])
    if not errata:
        return schema
    for endpoint, where, change, _why in OPENAPI_ERRATA:
        if endpoint != path:
            continue
        if where == "cursor":
            _make_nullable(schema["properties"]["cursor"])
        elif where == "items.required":
            wrong, right = (part.split(",") for part in change.split(" -> "))
            required = [name for name in _items(schema)["required"] if name not in wrong]
            _items(schema)["required"] = required + [name for name in right if name not in required]
        else:
            _make_nullable(_items(schema)["properties"][where.removeprefix("items.")])
    return schema


def openapi_throttle_schema(spec: dict) -> dict:
    """The spec's 429 body schema (no errata needed)."""
    return copy.deepcopy(
        spec["components"]["responses"]["ThrottleError"]["content"]["application/json"]["schema"]
    )
