"""Reading the API's answers: a list page's items and cursor, JSON made storable, a 4xx named."""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import AccessForbidden, ApiError, AuthenticationError, MalformedResponse, NotFound


def page_parts(endpoint: str, body: Any) -> tuple[list[dict[str, Any]], str | None]:
    """The items and next cursor of a list endpoint's answer (MalformedResponse when it is not one)."""
    if not isinstance(body, dict):
        raise MalformedResponse(
            f"{endpoint} answered a {type(body).__name__}, expected an object with results",
            endpoint=endpoint,
        )
    results = body.get("results")
    if results is None:
        results = []
    if not isinstance(results, list):
        raise MalformedResponse(
            f"{endpoint} 'results' is a {type(results).__name__}, expected a list", endpoint=endpoint
        )
    cursor = body.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise MalformedResponse(
            f"{endpoint} 'cursor' is a {type(cursor).__name__}, expected a string or null",
            endpoint=endpoint,
        )
    # Non-object items are passed through as they are: the sync counts them as skipped with a reason.
    return results, (cursor or None)


_LONE_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_json(content: bytes) -> Any:
    """A body as JSON, with what no database can store made storable: NaN and Infinity (which
    Python's parser accepts) become null, and a lone surrogate escape (half of a character) becomes
    U+FFFD. Otherwise one such value in a page would make the database refuse the page's batch."""
    parsed = json.loads(content, parse_constant=lambda _name: None)
    if _LONE_SURROGATE_ESCAPE.search(content):  # only then can a string hold half a character
        parsed = _without_surrogates(parsed)
    return parsed


def _without_surrogates(value: Any) -> Any:
    """``value`` with every unpaired surrogate in its strings (keys too) replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_without_surrogates(key): _without_surrogates(item) for key, item in value.items()}
    return value


def client_error(endpoint: str, status: int, excerpt: str) -> ApiError:
    """The error for a 4xx answer (or an unexpected status), named by what it means for the user."""
    kinds: dict[int, tuple[type[ApiError], str]] = {
        401: (AuthenticationError, "the API key was refused (401): check WHEREBY_INSIGHTS['API_KEY']"),
        403: (AccessForbidden, "the API key may not read insights (403)"),
        404: (NotFound, "not found (404)"),
    }
    kind, text = kinds.get(status, (ApiError, f"answered {status}"))
    message = f"{endpoint}: {text}" + (f": {excerpt}" if excerpt else "")
    return kind(message, endpoint=endpoint, status=status, body_excerpt=excerpt)
