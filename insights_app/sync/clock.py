"""The clocks of decisions between processes: the database's and Redis's, never a host's own."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from ..models import clock
from ..models.clock import db_now

__all__ = ["db_now", "redis_now"]


def redis_now(connection: Any) -> datetime:
    """Now on the Redis server (``TIME``), for times RQ keeps there (a retry's, a window job's due time)."""
    if clock.follows_host_clock():
        return timezone.now()
    seconds, micros = connection.time()
    return datetime.fromtimestamp(seconds + micros / 1e6, tz=UTC)
