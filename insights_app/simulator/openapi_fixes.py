"""Whereby's openapi.json made readable by schema-driven tools (schemathesis): the corrections of
API_NOTES.md ("The OpenAPI file itself, as a machine reads it"), in one place, applied to a copy.

The response errata themselves live in ``schemas.OPENAPI_ERRATA``; this module adds what a tool
needs on top: parameter schemas, deepObject filters, the Bearer key, 3.0 nullability, the 400 and
404 answers, and participants' "either roomSessionId or externalId".
"""

from __future__ import annotations

import copy
from typing import Any

from .schemas import openapi_response_schema

INSIGHTS_PATHS = (
    "/insights/rooms",
    "/insights/room-sessions",
    "/insights/participants",
    "/insights/participant",
)
ERROR_RESPONSE = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "string"}},
            }
        }
    }
}
# (what, why) for the documentation and the test that each is needed.
CORRECTIONS: tuple[tuple[str, str], ...] = (
    ("schema: {type: string} on parameters without one", "a parameter needs a schema or content (3.0)"),
    ("style: deepObject on the object filters roomName and createdAt", "they are sent as roomName[exact]="),
    ("security: BearerAuth on every operation", "every call needs the key; no operation says so"),
    ("type: [x, null] -> type: x, nullable: true", "type lists are 3.1 syntax in a 3.0.0 file"),
    (
        "200 schemas with schemas.OPENAPI_ERRATA applied",
        "null cursors, nullable fields, the right required list",
    ),
    ("400 and 404 answers with {error: string}", "bad parameters and unknown participants; not listed"),
    ("participants: roomSessionId not required", "either roomSessionId or externalId is required"),
)


def corrected_openapi(spec: dict[str, Any]) -> dict[str, Any]:
    """The four insights operations of ``spec`` (left unchanged) with every correction applied."""
    fixed = copy.deepcopy(spec)
    fixed["paths"] = {path: fixed["paths"][path] for path in INSIGHTS_PATHS}
    for path, item in fixed["paths"].items():
        operation = item["get"]
        operation["security"] = [{"BearerAuth": []}]
        for parameter in operation.get("parameters", []):
            if "schema" not in parameter and "content" not in parameter:
                parameter["schema"] = {"type": "string"}
            if parameter["schema"].get("type") == "object":
                parameter["style"], parameter["explode"] = "deepObject", True
            if path == "/insights/participants" and parameter["name"] == "roomSessionId":
                parameter["required"] = False
        responses = operation["responses"]
        responses["200"]["content"]["application/json"]["schema"] = openapi_response_schema(spec, path)
        responses.setdefault("400", {"description": "Bad parameters", **copy.deepcopy(ERROR_RESPONSE)})
        responses.setdefault("404", {"description": "Not found", **copy.deepcopy(ERROR_RESPONSE)})
    return _nullable_30(fixed)


def _nullable_30(node: Any) -> Any:
    """``type: [x, "null"]`` (3.1) rewritten as ``type: x, nullable: true`` (3.0), everywhere."""
    if isinstance(node, list):
        return [_nullable_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: _nullable_30(value) for key, value in node.items()}
    kinds = result.get("type")
    if isinstance(kinds, list):
        others = [kind for kind in kinds if kind != "null"]
        if "null" in kinds:
            result["nullable"] = True
        if len(others) == 1:
            result["type"] = others[0]
        else:
            del result["type"]
            result["anyOf"] = [{"type": kind} for kind in others]
    return result
