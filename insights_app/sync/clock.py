"""The clocks of decisions between processes: the database's and Redis's, never a host's own."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import connections, router
from django.utils import timezone

from ..models import SyncRun

# The database's current time, per vendor. PostgreSQL: STATEMENT_TIMESTAMP, not CURRENT_TIMESTAMP,
# which is the start of the transaction (what Django's Now() uses too).
_QUERIES = {
    "postgresql": "SELECT STATEMENT_TIMESTAMP()",
    "sqlite": "SELECT STRFTIME('%Y-%m-%d %H:%M:%f', 'now')",
    "mysql": "SELECT UTC_TIMESTAMP(6)",
}


def db_now() -> datetime:
    """Now on the database server, aware, in UTC.

    Heartbeats, queue times and finish times of runs are written with the database's clock
    (``Now()``), so liveness and abandonment compare them with this, never with the clock of the
    host that asks. SQLite has no server: its clock is the process's own, one machine's.
    """
    connection = connections[router.db_for_read(SyncRun)]
    query = _QUERIES.get(connection.vendor)
    if query is None:  # (another backend: the host's clock, the best we can ask)
        return timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(query)
        value = cursor.fetchone()[0]
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def redis_now(connection: Any) -> datetime:
    """Now on the Redis server (``TIME``), for times RQ keeps there (a retry's due time)."""
    seconds, micros = connection.time()
    return datetime.fromtimestamp(seconds + micros / 1e6, tz=UTC)
