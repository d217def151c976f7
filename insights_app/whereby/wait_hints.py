"""Reading how long the API asks us to wait (Retry-After, data.msLeft, X-RateLimit-Reset), and waiting."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable
from typing import Any

from ..errors import Interrupted


def as_float(value: Any) -> float | None:
    """The value as a float, or None when it is not a number."""
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer beyond any float
        return None


def seconds_from_retry_after(value: str | None) -> float | None:
    """Seconds a Retry-After header asks for (a delay or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    seconds = as_float(value)
    if seconds is not None:
        return seconds
    return seconds_until(value)


def seconds_from_ms_left(content: bytes) -> float | None:
    """Seconds from a 429 body's ``data.msLeft``; None when the body does not say."""
    try:
        body = json.loads(content)
        ms_left = body["data"]["msLeft"]
    except (ValueError, KeyError, TypeError, RecursionError):  # RecursionError: arrays nested deep
        return None
    seconds = as_float(ms_left)
    return seconds / 1000.0 if seconds is not None else None


def seconds_until(value: str | None) -> float | None:
    """Seconds from now until an HTTP date (or epoch seconds) in a header; None when unparsable."""
    if not value:
        return None
    number = as_float(value)
    if number is not None:
        # Epoch seconds, or already a delta when small.
        return max(0.0, number - time.time()) if number > 10**9 else max(0.0, number)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):  # whatever a hostile header holds
        return None
    if moment is None:
        return None
    return max(0.0, moment.timestamp() - time.time())


def throttle_wait(headers: Any, content: bytes, backoff: float) -> float:
    """Seconds a 429 asks for: Retry-After, else data.msLeft, else X-RateLimit-Reset, else ``backoff``."""
    wait = seconds_from_retry_after(headers.get("Retry-After"))
    if wait is None:
        wait = seconds_from_ms_left(content)
    if wait is None:
        wait = seconds_until(headers.get("X-RateLimit-Reset"))
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
