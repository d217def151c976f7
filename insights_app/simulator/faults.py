"""Fault injection: what can go wrong between a client and the Whereby API, on demand."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from random import Random

THROTTLE_HINTS = ("all", "retry-after", "ms-left", "reset")
ERROR_STATUSES = (500, 502, 503, 504)


@dataclass
class FaultConfig:
    """Faults to inject (all off by default); mutable while the server runs.

    Rates are shares of eligible requests decided by a seeded RNG (deterministic for a
    sequential client). ``force_throttle`` and ``fail_first_n`` count down as they fire.
    """

    error_rate: float = 0.0
    error_status: int = 500
    error_body: str = ""  # replaces the JSON body of injected 5xx answers (e.g. hostile text)
    latency_ms: int = 0
    malformed_json_rate: float = 0.0
    truncated_rate: float = 0.0
    drop_connection_rate: float = 0.0
    html_error_rate: float = 0.0
    # A slow server: headers at once, then the body a few bytes at a time.
    trickle_rate: float = 0.0
    trickle_interval_ms: int = 1000
    trickle_bytes: int = 1
    repeat_cursor: bool = False
    force_throttle: int = 0
    throttle_hints: str = "all"
    throttle_ms: int = 1000
    only_paths: tuple[str, ...] | list[str] | set[str] | None = None
    fail_first_n: int = 0
    corrupt_item_rate: float = 0.0
    corrupt_kinds: tuple[str, ...] = ("no_identity", "bad_date", "bad_number", "wrong_type", "not_an_object")
    seed: int = 0
    # Requests after the first ``hold_after`` wait until ``release()`` (None: none wait): a test that
    # needs a sync still working holds it there, whatever the clock or the machine's speed.
    hold_after: int | None = None
    _rng: Random | None = field(default=None, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    _seen: int = field(default=0, init=False, repr=False, compare=False)
    _held: int = field(default=0, init=False, repr=False, compare=False)
    _released: threading.Event = field(default_factory=threading.Event, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Check values early so a typo does not silently disable a fault."""
        self.validate()

    def validate(self) -> None:
        """Raise ValueError for values the server could not honour."""
        for name in (
            "error_rate",
            "malformed_json_rate",
            "truncated_rate",
            "drop_connection_rate",
            "html_error_rate",
            "trickle_rate",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {value!r}")
        if self.error_status not in ERROR_STATUSES:
            raise ValueError(f"error_status must be one of {ERROR_STATUSES}")
        if self.throttle_hints not in THROTTLE_HINTS:
            raise ValueError(f"throttle_hints must be one of {THROTTLE_HINTS}")
        counts = ("latency_ms", "force_throttle", "fail_first_n", "throttle_ms", "trickle_interval_ms")
        if any(getattr(self, name) < 0 for name in counts):
            raise ValueError(f"{', '.join(counts)} must be >= 0")
        if self.trickle_bytes < 1:
            raise ValueError("trickle_bytes must be >= 1")

    def applies_to(self, path: str) -> bool:
        """Whether faults may hit this endpoint path (e.g. ``/insights/participant``)."""
        return not self.only_paths or path in self.only_paths

    def roll(self, rate: float) -> bool:
        """A seeded coin flip with probability ``rate``."""
        if rate <= 0.0:
            return False
        with self._lock:
            if self._rng is None:
                self._rng = Random(f"whereby-sim-faults:{self.seed}")
            return self._rng.random() < rate

    def hold_here(self) -> None:
        """Make this request wait for ``release()`` once ``hold_after`` requests have passed."""
        if self.hold_after is None:
            return
        with self._lock:
            self._seen += 1
            if self._seen <= self.hold_after or self._released.is_set():
                return
            self._held += 1
        self._released.wait()

    @property
    def held(self) -> int:
        """How many requests have been held so far (answered or not)."""
        with self._lock:
            return self._held

    def release(self) -> None:
        """Let every held request, and all later ones, through."""
        self._released.set()

    def take(self, counter: str) -> bool:
        """Consume one unit of a countdown (``force_throttle`` or ``fail_first_n``) if any is left."""
        with self._lock:
            left = getattr(self, counter)
            if left > 0:
                setattr(self, counter, left - 1)
                return True
            return False


# Ways an item goes bad in the wild: identity missing, a date nobody can read, a number as prose,
# a field of the wrong type, or no object at all.
IDENTITY_FIELDS = ("participantId", "roomSessionId", "roomName")
DATE_FIELDS = ("startedAt", "joinedAt", "createdAt", "timeStamp")
NUMBER_FIELDS = ("totalParticipantMinutes", "rating", "sampleRateMs")


CORRUPT_KINDS = ("no_identity", "bad_date", "bad_number", "wrong_type", "not_an_object")


def corrupt_items(items: list, faults: FaultConfig) -> list:
    """A copy of ``items`` where a share (``corrupt_item_rate``) is mangled in one of ``corrupt_kinds``."""
    unknown = set(faults.corrupt_kinds) - set(CORRUPT_KINDS)
    if unknown or not faults.corrupt_kinds:
        raise ValueError(f"corrupt_kinds must be some of {CORRUPT_KINDS}, not {sorted(unknown)}")
    mangled = []
    for item in items:
        if not isinstance(item, dict) or not faults.roll(faults.corrupt_item_rate):
            mangled.append(item)
            continue
        with faults._lock:
            kind = (faults._rng or Random(0)).choice(list(faults.corrupt_kinds))
        way = CORRUPT_KINDS.index(kind)
        bad = dict(item)
        if way == 0:
            for key in IDENTITY_FIELDS:
                if key in bad:
                    del bad[key]
                    break
            else:
                bad["timeStamp"] = "not a time"
        elif way == 1:
            date_key = next((k for k in DATE_FIELDS if k in bad), None)
            bad[date_key or "startedAt"] = "31/02/2026 25:61"
        elif way == 2:
            key = next((k for k in NUMBER_FIELDS if k in bad), "rating")
            bad[key] = "lots"
        elif way == 3:
            bad["displayName"] = {"nested": ["not", "a", "string"]}
            bad["surpriseField"] = {"new": True}
        else:
            mangled.append("garbage")
            continue
        mangled.append(bad)
    return mangled
