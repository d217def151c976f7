"""Instants as epoch milliseconds, rendered the way the Whereby API writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def format_ms(ms: int | None) -> str | None:
    """``2020-01-01T00:15:00.000Z`` for an epoch-millisecond instant (None stays None)."""
    if ms is None:
        return None
    moment = _EPOCH + timedelta(milliseconds=ms)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def to_datetime(ms: int) -> datetime:
    """An aware UTC datetime for an epoch-millisecond instant."""
    return _EPOCH + timedelta(milliseconds=ms)


def parse_instant(value: datetime | str | int | float) -> int:
    """Epoch milliseconds from a datetime (naive = UTC), an ISO-8601 string or epoch seconds."""
    if isinstance(value, int | float):
        return round(value * 1000)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
