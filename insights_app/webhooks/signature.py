"""The ``Whereby-Signature`` header: parse it and check it in constant time against the raw body."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

HEADER = "Whereby-Signature"


class SignatureError(Exception):
    """Why a delivery was refused; ``reason`` is a short code for the rejection counts."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ParsedSignature:
    """The timestamp and every ``v1`` signature a header carries (Whereby may send several while rotating)."""

    timestamp: int
    signatures: tuple[str, ...]


def parse_header(value: str | None) -> ParsedSignature:
    """``t=<unix seconds>,v1=<hex>[,v1=<hex>]`` -> ParsedSignature, or SignatureError naming the problem."""
    if not value or not value.strip():
        raise SignatureError("missing", "no Whereby-Signature header")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in value.split(","):
        key, _, item = part.strip().partition("=")
        # ASCII digits only: str.isdigit() also accepts "²" or "١", which int() may refuse or misread.
        if key == "t" and item.isascii() and item.isdigit() and len(item) <= 12:
            timestamp = int(item)
        elif key == "v1" and item:
            signatures.append(item.strip().lower())
    if timestamp is None or not signatures:
        raise SignatureError("malformed", "the Whereby-Signature header lacks t=<unix seconds> or v1=<hex>")
    return ParsedSignature(timestamp, tuple(signatures))


def expected_signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``<t>.<raw body>`` keyed by the endpoint's secret."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify(secret: str, header: str | None, body: bytes, *, now: float, tolerance: float) -> int:
    """Check a delivery; returns its timestamp, or raises SignatureError (bad, missing, stale)."""
    parsed = parse_header(header)
    expected = expected_signature(secret, parsed.timestamp, body).encode()
    # Every candidate is compared, so the time taken does not depend on which one matched.
    matched = False
    for candidate in parsed.signatures:
        matched |= hmac.compare_digest(expected, candidate.encode("ascii", "replace"))
    if not matched:
        raise SignatureError("bad_signature", "the signature does not match the body")
    if abs(now - parsed.timestamp) > tolerance:
        raise SignatureError("stale", "the signature's timestamp is outside WEBHOOK_TOLERANCE_SECONDS")
    return parsed.timestamp
