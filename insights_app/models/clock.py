"""The database's clock: the one every process shares for times stored in its rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from django.apps import apps
from django.db import connections, router
from django.utils import timezone

# The database's current time, per vendor. PostgreSQL: STATEMENT_TIMESTAMP, not CURRENT_TIMESTAMP,
# which is the start of the transaction (what Django's Now() uses too).
_QUERIES = {
    "postgresql": "SELECT STATEMENT_TIMESTAMP()",
    "sqlite": "SELECT STRFTIME('%Y-%m-%d %H:%M:%f', 'now')",
    "mysql": "SELECT UTC_TIMESTAMP(6)",
}


# Whether the host's clock stands for every clock: False in use. A test that pins the host clock
# (time_machine) sets this so the database's and Redis's clocks are pinned with it, both sides.
def _never() -> bool:
    return False


follows_host_clock: Callable[[], bool] = _never


def db_now() -> datetime:
    """Now on the database server, aware, in UTC.

    Heartbeats, queue times and finish times of runs are written with the database's clock
    (``Now()``), so liveness and abandonment compare them with this, never with the clock of the
    host that asks; so do the webhooks' times received, presence and the safety net. SQLite has no
    server: its clock is the process's own, one machine's.
    """
    # The database of the app's runs (by name: sync_run imports this module).
    connection = connections[router.db_for_read(apps.get_model("insights_app", "SyncRun"))]
    query = _QUERIES.get(connection.vendor)
    if query is None or follows_host_clock():  # (another backend: the host's clock, the best we can ask)
        return timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(query)
        value = cursor.fetchone()[0]
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
