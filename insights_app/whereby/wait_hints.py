"""How long a 429 asks us to wait (Retry-After, data.msLeft, X-RateLimit-Reset), and waiting."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..errors import Interrupted
from .rate_headers import RateHeaders, seconds_until


def as_float(value: Any) -> float | None:
    """The value as a float, or None when it is not a number."""
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer beyond any float
        return None


def seconds_from_ms_left(content: bytes) -> float | None:
    """Seconds from a 429 body's ``data.msLeft``; None when the body does not say."""
    try:
        body = json.loads(content)
        ms_left = body["data"]["msLeft"]
    except (ValueError, KeyError, TypeError, RecursionError):  # RecursionError: arrays nested deep
        return None
    seconds = as_float(ms_left)
    return seconds / 1000.0 if seconds is not None else None


def throttle_wait(headers: Any, content: bytes, backoff: float) -> float:
    """Seconds a 429 asks for: Retry-After, else data.msLeft, else X-RateLimit-Reset, else ``backoff``."""
    rate = RateHeaders.read(headers)
    wait = rate.retry_after
    if wait is None:
        wait = seconds_from_ms_left(content)
    if wait is None:
        wait = seconds_until(rate.reset)
    return max(0.0, backoff if wait is None else wait)


def wait_unless_interrupted(
    sleep: Callable[[float], None], seconds: float, interrupt: Callable[[], bool] | None, what: str
) -> float:
    """Sleep ``seconds``; when interruptible, in slices of at most two, asking ``interrupt`` before
    each slice and at the end, and raising Interrupted when it says stop. Returns the seconds slept."""
    if interrupt is None:
        sleep(seconds)
        return seconds
    remaining = seconds
    while True:
        if interrupt():
            raise Interrupted(f"stopped while waiting for {what}")
        if remaining <= 0:
            return seconds
        step = min(2.0, remaining)
        sleep(step)
        remaining -= step
