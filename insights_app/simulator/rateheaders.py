"""Rate headers as a careless API sends them: missing, nonsense, or well-formed but wrong."""

from __future__ import annotations

import threading
from random import Random

# normal: the limiter's true values on every answer.
# missing: the X-RateLimit-* headers are left off.
# nonsense: Limit or Remaining is not a number a client can use ("", "abc", "-5", "12.5", "NaN", ...).
# lying: Limit or Remaining is a well-formed number that is wrong (a Limit of 1 or 10**18, a
#   Remaining of 0, of the full limit, or far above the limit).
RATE_HEADER_MODES = ("normal", "missing", "nonsense", "lying")
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
NONSENSE = ("", "abc", "-5", "12.5", "NaN", "1e3", "0x10", "  7 7", "null", "\u00bd")
HUGE = 10**18


class RateHeaderFaults:
    """Spoils the X-RateLimit-* headers of a share of answers in the way ``mode`` names (seeded).

    ``Retry-After`` and a 429's ``msLeft`` are never spoiled: they stay true to the limiter.
    """

    def __init__(self, mode: str = "normal", share: float = 0.1, seed: int = 0) -> None:
        if mode not in RATE_HEADER_MODES:
            raise ValueError(f"rate_headers must be one of {', '.join(RATE_HEADER_MODES)}, not {mode!r}")
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"rate_header_share must be between 0 and 1, not {share!r}")
        self.mode = mode
        self.share = share
        self._random = Random(f"whereby-sim-rate-headers:{seed}")
        self._lock = threading.Lock()
        self.spoiled = 0  # answers whose headers were spoiled so far

    def apply(self, headers: dict[str, str]) -> dict[str, str]:
        """``headers`` as this answer carries them (a new dict; the input is left alone)."""
        if self.mode == "normal" or "X-RateLimit-Limit" not in headers:
            return headers
        with self._lock:
            if self.share < 1.0 and self._random.random() >= self.share:
                return headers
            self.spoiled += 1
            spoiled = dict(headers)
            if self.mode == "missing":
                for name in RATE_HEADERS:
                    spoiled.pop(name, None)
                return spoiled
            name = self._random.choice(RATE_HEADERS[:2])
            if self.mode == "nonsense":
                spoiled[name] = self._random.choice(NONSENSE)
                return spoiled
            limit = int(headers["X-RateLimit-Limit"])
            if name == "X-RateLimit-Limit":
                spoiled[name] = str(self._random.choice((1, HUGE, 10 * limit)))
            else:
                spoiled[name] = str(self._random.choice((0, limit, 3 * limit, HUGE)))
            return spoiled
