"""What organisation to simulate: the knobs of the generator and their defaults."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from .timefmt import parse_instant

MINUTE_MS = 60_000
DAY_MS = 86_400_000


def default_now() -> datetime:
    """The real clock, rounded down to the minute, so simulators started in the same minute agree."""
    # One clock rule for the whole project (docs/architecture): the simulator lives at the app's "now",
    # so report periods, lookbacks and the detail policy see its data. A fixed instant is for tests
    # that pin the app's clock too.
    return datetime.now(UTC).replace(second=0, microsecond=0)


@dataclass(frozen=True)
class OrgSpec:
    """Size and shape of a simulated organisation; averages are exact in total."""

    seed: int = 1
    rooms: int = 40
    sessions_per_room: float = 50
    participants_per_session: float = 5
    days: float = 60
    max_samples: int = 900
    now: datetime | str | None = None
    live: bool = False
    hostile_names: bool = True
    ratings: bool = True
    # What the real API does that a clean simulator would not (docs/simulator.md, "Realism").
    lag_minutes: float = 0.0
    # Each session's lag is drawn (seeded) from [lag_minutes, lag_minutes + lag_spread_minutes]; a
    # share lag_outlier_share of sessions wait lag_outlier_minutes instead (Whereby promises no bound).
    lag_spread_minutes: float = 0.0
    lag_outlier_share: float = 0.0
    lag_outlier_minutes: float = 60.0
    guests_without_user_id: float = 0.0
    redacted_rooms: float = 0.0

    def __post_init__(self) -> None:
        """Fix the clock once (the real one by default) and refuse specs that cannot be generated."""
        if self.now is None:
            # Resolved here, once, so every use of this spec sees the same instant.
            object.__setattr__(self, "now", default_now())
        if self.rooms < 0:
            raise ValueError("rooms must be >= 0")
        if self.sessions_per_room < 0 or self.participants_per_session < 0:
            raise ValueError("sessions_per_room and participants_per_session must be >= 0")
        if self.days <= 0:
            raise ValueError("days must be > 0")
        if self.max_samples < 1:
            raise ValueError("max_samples must be >= 1")
        if not 0 <= self.lag_minutes <= 24 * 60:
            raise ValueError("lag_minutes must be between 0 and 1440")
        for name in ("lag_spread_minutes", "lag_outlier_minutes"):
            if not 0 <= getattr(self, name) <= 24 * 60:
                raise ValueError(f"{name} must be between 0 and 1440")
        if not 0 <= self.lag_outlier_share <= 1:
            raise ValueError("lag_outlier_share must be a share between 0 and 1")
        if self.lag_outlier_share and self.lag_outlier_minutes < self.lag_minutes + self.lag_spread_minutes:
            raise ValueError("lag_outlier_minutes must be at least lag_minutes + lag_spread_minutes")
        for name in ("guests_without_user_id", "redacted_rooms"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a share between 0 and 1")
        # One session per room per minute at most: a room hosts one session at a time.
        if self.total_sessions > self.rooms * max(0, int(self.days * 1440) - 2):
            raise ValueError("too many sessions for the number of rooms and days")

    @property
    def total_sessions(self) -> int:
        """Exact number of sessions in the history (rooms x average, rounded)."""
        return round(self.rooms * self.sessions_per_room)

    @property
    def total_connections(self) -> int:
        """Exact number of participant connections in the history."""
        return round(self.total_sessions * self.participants_per_session)

    @property
    def lag_ms(self) -> int:
        """The data lag in milliseconds."""
        return round(self.lag_minutes * MINUTE_MS)

    @property
    def max_lag_ms(self) -> int:
        """The longest lag any session may have, in milliseconds."""
        longest = self.lag_minutes + self.lag_spread_minutes
        if self.lag_outlier_share:
            longest = max(longest, self.lag_outlier_minutes)
        return round(longest * MINUTE_MS)

    def session_lag_ms(self, session_id: str) -> int:
        """This session's data lag in milliseconds: the same for the same seed and id, every run."""
        if not self.lag_spread_minutes and not self.lag_outlier_share:
            return self.lag_ms
        digest = hashlib.blake2b(f"{self.seed}:lag:{session_id}".encode(), digest_size=16).digest()
        spread_draw = int.from_bytes(digest[:8], "big") / 2**64
        outlier_draw = int.from_bytes(digest[8:], "big") / 2**64
        if outlier_draw < self.lag_outlier_share:
            return round(self.lag_outlier_minutes * MINUTE_MS)
        return round((self.lag_minutes + spread_draw * self.lag_spread_minutes) * MINUTE_MS)

    @property
    def now_ms(self) -> int:
        """The generation instant in epoch milliseconds."""
        return parse_instant(self.now if self.now is not None else default_now())
