"""What the client spent (requests, points, throttles, retries, bytes, waits), and one call's time."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields


@dataclass
class ApiStats:
    """What the client spent: read by the sync to fill ``SyncRun``."""

    requests: int = 0
    points: int = 0
    throttles: int = 0
    retries: int = 0
    bytes: int = 0
    waited_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **amounts: float) -> None:
        """Add to the counters atomically."""
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def snapshot(self) -> dict[str, float]:
        """A plain copy of the counters."""
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}


class CallClock:
    """The time one call has spent on attempts and backoffs, against its total deadline."""

    __slots__ = ("_limit", "_spent")

    def __init__(self, limit: float) -> None:
        self._limit = limit
        self._spent = 0.0

    def add(self, seconds: float) -> None:
        """Count ``seconds`` more."""
        self._spent += seconds

    def total(self) -> float:
        """Seconds spent so far."""
        return self._spent

    def left(self) -> float:
        """Seconds left before the deadline (negative once it has passed)."""
        return self._limit - self._spent
