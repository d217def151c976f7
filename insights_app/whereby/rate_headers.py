"""The API's rate headers, read in one place: the plan, what is left, when it resets, the wait asked for."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Epoch seconds are told from a delay by size: no delay the API asks for is 30 years long.
EPOCH_FROM = 10**9


def number(value: Any) -> float | None:
    """A header (or stored figure) as a non-negative finite number, or None."""
    try:
        parsed = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer beyond any float
        return None
    return parsed if parsed >= 0 and parsed == parsed and parsed != float("inf") else None


def instant(value: str | None, now_epoch: float) -> float | None:
    """An instant a header names, as epoch seconds: an HTTP date, epoch seconds, or seconds from now."""
    if not value:
        return None
    seconds = number(value)
    if seconds is not None:
        return seconds if seconds > EPOCH_FROM else now_epoch + seconds
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):  # whatever a hostile header holds
        return None
    return None if moment is None else moment.timestamp()


def seconds_until(value: str | None) -> float | None:
    """Seconds from now until the instant a header names (never negative); None when unreadable."""
    now = time.time()
    moment = instant(value, now)
    return None if moment is None else max(0.0, moment - now)


def seconds_from_retry_after(value: str | None) -> float | None:
    """Seconds a Retry-After header asks for (a delay or an HTTP date); None when absent or unreadable."""
    seconds = number(value)
    return seconds if seconds is not None else seconds_until(value)


@dataclass(frozen=True)
class RateHeaders:
    """One answer's X-RateLimit-Limit, -Remaining, -Reset (as sent: it tells windows apart) and the
    seconds its Retry-After asks for."""

    limit: float | None = None
    remaining: float | None = None
    reset: str = ""
    retry_after: float | None = None

    @classmethod
    def read(cls, headers: Mapping[str, str]) -> RateHeaders:
        """The rate headers of an answer; a missing or unreadable figure is None."""
        retry_after = headers.get("Retry-After")
        return cls(
            number(headers.get("X-RateLimit-Limit")),
            number(headers.get("X-RateLimit-Remaining")),
            headers.get("X-RateLimit-Reset") or "",
            seconds_from_retry_after(retry_after) if retry_after else None,
        )

    @property
    def complete(self) -> bool:
        """Whether both figures were readable."""
        return self.limit is not None and self.remaining is not None


NO_HEADERS = RateHeaders()
