"""The state one sync process keeps while it works, flushed to its ``SyncRun`` at each page boundary."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import close_old_connections, connection, transaction

from ..conf import get_settings
from ..display.safetext import printable
from ..errors import Interrupted
from ..models import SyncRun
from ..models.clock import db_now
from ..rollups.marks import flush as flush_rollups
from ..whereby.client import WherebyClient
from . import lag
from .backend import JobBackend
from .upsert import UpsertResult

logger = logging.getLogger(__name__)

# The client's stats and the run's columns that add them up (points: what the API charged, valued at
# the latest reading of the costs; reserved: what the budget counted against our share).
API_COUNTERS = {
    "requests": "api_requests",
    "points": "api_points",
    "points_estimated": "api_points_estimated",
    "reserved": "api_points_reserved",
    "throttles": "api_throttles",
    "retries": "api_retries",
    "bytes": "api_bytes",
}
# Counters, heartbeat and the cancel flag are exchanged with the database at most this often:
# per page it would double the sync's commits when pages are small.
FLUSH_INTERVAL = 1.0


# Someone asked this run to stop: raised at the next page boundary, or by the client during a wait.
Cancelled = Interrupted


class RunContext:
    """Counters, progress, cancellation and the clock of one process working on a run."""

    def __init__(
        self,
        run: SyncRun,
        client: WherebyClient,
        *,
        backend: JobBackend,
        now: datetime | None = None,
        on_progress: Callable[[SyncRun], None] | None = None,
    ) -> None:
        self.run = run
        self.client = client
        self.backend = backend
        self.conf = get_settings()
        # The database's clock: a run's times (full_synced_at, synced_at) are compared with times other
        # processes wrote (a failed run's started_at when resuming, presence), never with this host's.
        self.now = now or db_now()
        self.lookback = timedelta(minutes=lag.lookback_minutes())
        self.on_progress = on_progress
        self.deltas: Counter[str] = Counter()
        self.skip_reasons: Counter[str] = Counter()
        self.ambiguous_loss_items = 0
        # Grows with every skipped item or failed piece of work, never reset: callers compare it
        # before and after a room or session to decide whether it may be marked complete.
        self.trouble = 0
        # Counted from here: a client may have served another run before (its stats are cumulative).
        self._api_before = client.stats.snapshot()
        self._calls_before = client.stats.calls_now()
        self._flushed_api: dict[str, float] = {}
        self._last_flush = 0.0
        self._last_api_flush = 0.0
        client.interrupt = self.cancel_requested

    # Counting ------------------------------------------------------------------------------

    def count(self, model: str, result: UpsertResult) -> None:
        """Add an upsert's outcome to the run's counters."""
        self.deltas[f"{model}_created"] += result.created
        self.deltas[f"{model}_updated"] += result.updated
        self.deltas[f"{model}_unchanged"] += result.unchanged

    def skip(self, model: str, reason: str, n: int = 1) -> None:
        """Count ``n`` items of ``model`` that were not stored, with the reason shown to staff."""
        self.deltas[f"{model}_skipped"] += n
        self.skip_reasons[printable(f"{model}: {reason}", limit=200)] += n
        self.trouble += n

    def note(self, model: str, reason: str) -> None:
        """Count a value stored as null or cut short (the item itself was stored): shown to staff,
        makes the run partial, but the item is not fetched again for it."""
        self.skip_reasons[printable(f"{model}: {reason}", limit=200)] += 1

    def problem(self, what: str) -> None:
        """Record a piece of work that failed while the rest of the run went on (makes it partial)."""
        what = printable(what, limit=300)
        self.skip_reasons[what] += 1
        self.trouble += 1
        logger.warning("sync run %s: %s", self.run.pk, what)

    def progress(self, done: int = 0, total: int = 0) -> None:
        """Advance (or extend) the progress bar."""
        self.deltas["progress_done"] += done
        self.deltas["progress_total"] += total

    # Flushing ------------------------------------------------------------------------------

    def flush(self, *, force: bool = False) -> None:
        """At a page boundary: write counters and heartbeat (at most once a second unless forced),
        and raise Cancelled if a stop was asked for."""
        now = time.monotonic()
        if not force and now - self._last_flush < FLUSH_INTERVAL:
            return
        self._last_flush = now
        increments = self._api_increments()
        increments.update(self.deltas)
        self.deltas.clear()
        self.run.add_counts(increments)
        if self.skip_reasons:
            self.run.merge_skip_reasons(self.skip_reasons)
            self.skip_reasons.clear()
        if self.on_progress is not None:
            self.run.refresh_from_db()
            self.on_progress(self.run)
        if self.run.cancel_was_requested():
            raise Cancelled()

    def cancel_requested(self) -> bool:
        """Whether someone asked this run to stop (read from the database; the client asks during waits).

        The client asks it while it waits (a 429, the budget), so the run's API calls and throttles
        are written here too: an API that throttles every call shows them while the run waits."""
        self._flush_api()
        return self.run.cancel_was_requested()

    def _api_increments(self) -> dict[str, int]:
        """What this process spent on the run since it last wrote it. Its points are valued anew each
        time (a cost learned lowers what its earlier calls were charged), so an increment may be
        negative; this process's total for the run never is."""
        api = self.client.stats.since(self._calls_before, self._api_before)
        # A recount of calls of an earlier run of this client is not taken from this one's reservations.
        api["reserved"] = max(0, api["reserved"])
        increments = {
            column: int(api[stat]) - int(self._flushed_api.get(stat, 0))
            for stat, column in API_COUNTERS.items()
        }
        self._flushed_api = api
        return increments

    def _flush_api(self) -> None:
        now = time.monotonic()
        if now - self._last_api_flush < FLUSH_INTERVAL:
            return
        self._last_api_flush = now
        increments = self._api_increments()
        if any(increments.values()):
            self.run.add_counts(increments)


@contextmanager
def page_transaction() -> Iterator[None]:
    """One API page's writes, atomically; on PostgreSQL without waiting for the WAL flush.

    ``SET LOCAL`` ends with the transaction, so the connection (pooled or not) is left as it was;
    a database crash can lose only the last moment of work, which the next run fetches again.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield
        # The stale marks of the days this page touched commit with its rows (cells: at the run's end).
        flush_rollups()


class Heartbeat:
    """A thread that marks the run alive while a long API wait blocks the page loop.

    A worker killed with SIGKILL takes this thread with it, so a stale ``heartbeat_at`` is how
    an abandoned run is recognised.
    """

    def __init__(self, run_id: int, interval: float) -> None:
        self.run_id = run_id
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"insights-heartbeat-{run_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    SyncRun.objects.filter(pk=self.run_id).heartbeat()
                except Exception:  # a heartbeat must never kill the sync; the next beat reconnects
                    logger.exception("heartbeat of sync run %s failed; trying again", self.run_id)
                    connection.close()
        finally:
            close_old_connections()
            connection.close()


def heartbeat_interval() -> float:
    """Beat a few times within the abandonment threshold."""
    return max(0.5, min(30.0, get_settings().ABANDONED_AFTER_SECONDS / 4))
