"""Opaque, signed paging cursors: an offset bound to the query that produced it."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac


class CursorError(ValueError):
    """The cursor was not issued by this server for this query."""


def query_fingerprint(path: str, query: dict[str, str]) -> str:
    """A short digest of the endpoint and every parameter except ``cursor`` and ``limit``."""
    stable = "&".join(f"{k}={v}" for k, v in sorted(query.items()) if k not in ("cursor", "limit"))
    return hashlib.sha256(f"{path}?{stable}".encode()).hexdigest()[:16]


def encode_cursor(secret: bytes, offset: int, fingerprint: str) -> str:
    """A URL-safe token carrying ``offset`` for the query ``fingerprint``."""
    payload = f"{offset}.{fingerprint}"
    signature = hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()[:20]
    return base64.urlsafe_b64encode(f"{payload}.{signature}".encode()).decode().rstrip("=")


def decode_cursor(secret: bytes, token: str, fingerprint: str) -> int:
    """The offset in ``token``; CursorError if it is garbage, forged or from another query."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        offset_text, token_fingerprint, signature = raw.split(".")
        offset = int(offset_text)
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise CursorError("invalid cursor") from error
    expected = hmac.new(secret, f"{offset_text}.{token_fingerprint}".encode(), hashlib.sha256).hexdigest()[
        :20
    ]
    if not hmac.compare_digest(signature, expected) or offset < 0:
        raise CursorError("invalid cursor")
    if token_fingerprint != fingerprint:
        raise CursorError("cursor does not belong to this query")
    return offset
