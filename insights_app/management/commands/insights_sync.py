"""``manage.py insights_sync``: run a sync now (progress bar, summary) or hand it to RQ with --enqueue."""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Iterator
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from ...conf import DETAIL_POLICIES, get_settings
from ...display.durations import format_duration
from ...display.safetext import printable
from ...errors import WherebyError
from ...jobs.backend import RQ_INLINE
from ...jobs.enqueue import cancel_run, enqueue_sync
from ...jobs.queue import QueueUnavailable
from ...models import COUNT_KINDS, SYNCED_MODELS, SyncKind, SyncRun, SyncStatus, SyncTrigger
from ...sync import SyncError, create_or_get_active_run, execute_run, finish_run, request_cancel
from ...sync.estimate import estimate_for

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequested(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived: unwind from wherever the sync is (a wait, a read) at once.

    A KeyboardInterrupt, so that no ``except Exception`` on the way turns a stop into a failed
    item, open transactions roll back as they would for Ctrl-C, and psycopg, interrupted inside a
    query, cancels it and keeps the connection usable for the cleanup on the way out.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into StopRequested for the duration (the main thread only)."""

    def raise_stop(signum: int, _frame: object) -> None:
        for number in STOP_SIGNALS:  # a second signal must not interrupt the closing of the run
            signal.signal(number, signal.SIG_IGN)
        raise StopRequested(signum)

    previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    for number in STOP_SIGNALS:
        signal.signal(number, raise_stop)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class Command(BaseCommand):
    help = "Copy Whereby Insights into the database: incremental by default, or --full, or one scope."

    def add_arguments(self, parser: CommandParser) -> None:
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument("--full", action="store_true", help="Walk every room, session and participant.")
        scope.add_argument("--room", action="append", metavar="NAME", help="Only this room (repeatable).")
        scope.add_argument(
            "--session", action="append", metavar="ID", help="Only this room session (repeatable)."
        )
        scope.add_argument("--external-id", metavar="ID", help="Everything linked to this externalId.")
        parser.add_argument("--details", choices=DETAIL_POLICIES, help="Detail policy for this run.")
        parser.add_argument("--enqueue", action="store_true", help="Queue the sync for an RQ worker instead.")
        parser.add_argument(
            "--cancel",
            nargs="?",
            const="active",
            metavar="RUN",
            help="Cancel sync run RUN (by number), or every queued or running run when no number is given.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["cancel"] is not None:
            self._cancel(options["cancel"])
            return
        kind, scope = self._scope(options)
        if not get_settings().API_KEY:
            raise CommandError(
                "No Whereby API key: set WHEREBY_INSIGHTS['API_KEY'] (the demo reads WHEREBY_API_KEY)."
            )
        if options["enqueue"]:
            self._enqueue(kind, scope, options["details"])
            return
        self._run_pk: int | None = None
        try:
            with stop_on_signals():
                self._run_now(kind, scope, options)
        except StopRequested as stop:
            self._stopped(stop.signum)

    def _run_now(self, kind: str, scope: dict[str, Any], options: dict[str, Any]) -> None:
        """Create (or refuse) the run, execute it here with a progress bar, print the summary."""
        try:
            run, created = create_or_get_active_run(
                kind,
                trigger=SyncTrigger.COMMAND,
                scope=scope,
                details=options["details"],
                backend=RQ_INLINE,  # worked on here, but RQ knows whether other runs' jobs live
            )
        except SyncError as exc:
            raise CommandError(str(exc)) from None
        if not created:
            raise CommandError(
                f"Sync run #{run.pk} covering the same data is already {run.status}; wait for it or cancel it."
            )
        self._run_pk = run.pk
        self.stdout.write(f"Sync run #{run.pk}: {run.get_kind_display()}, details {run.details_policy}")
        started = time.monotonic()
        bar = _ProgressBar(enabled=sys.stdout.isatty())
        try:
            run = execute_run(run.pk, backend=RQ_INLINE, on_progress=bar.update)
        except WherebyError:
            run = SyncRun.objects.get(pk=run.pk)
        finally:
            bar.close()
        self._summary(run, time.monotonic() - started)
        if run.status in (SyncStatus.FAILED, SyncStatus.CANCELLED):
            raise CommandError(
                f"Sync run #{run.pk} {run.status}: {printable(run.error) or 'no error recorded'}"
            )

    def _stopped(self, signum: int) -> None:
        """Close the run as cancelled (its checkpoint is what the last finished room saved), say so, exit."""
        for number in STOP_SIGNALS:  # a second Ctrl-C must not leave the run half closed
            signal.signal(number, signal.SIG_IGN)
        name = signal.Signals(signum).name
        run_pk = getattr(self, "_run_pk", None)
        if run_pk is None:
            self.stderr.write(f"Stopped by {name} before a sync run started.")
        else:
            # The stop may have landed in the middle of a query (PostgreSQL's driver waits in Python):
            # that connection is stuck mid-command, so drop it and let Django open a fresh one.
            for connection in connections.all(initialized_only=True):
                with contextlib.suppress(Exception):
                    connection.close()
            run = SyncRun.objects.get(pk=run_pk)
            request_cancel(run)
            run = finish_run(run.pk)
            self.stderr.write(
                f"Sync run #{run.pk} {run.status} by {name} after {run.api_requests} API calls; "
                "the next insights_sync resumes."
            )
        sys.stderr.flush()
        sys.stdout.flush()
        raise SystemExit(128 + signum)

    def _cancel(self, which: str) -> None:
        """``--cancel [RUN]``: what the dashboard's cancel button does, from the shell."""
        if which == "active":
            runs = list(
                SyncRun.objects.filter(status__in=(SyncStatus.QUEUED, SyncStatus.RUNNING)).order_by("pk")
            )
            if not runs:
                self.stdout.write("No sync run is queued or running.")
                return
        else:
            if not which.isdigit():
                raise CommandError(f"--cancel takes a run number, e.g. --cancel 12 (got {which!r})")
            run = SyncRun.objects.filter(pk=int(which)).first()
            if run is None:
                raise CommandError(f"There is no sync run #{which}.")
            if run.status not in (SyncStatus.QUEUED, SyncStatus.RUNNING):
                raise CommandError(f"Sync run #{run.pk} is already {run.status}.")
            runs = [run]
        for run in runs:
            run = cancel_run(run)
            state = run.status if run.status == SyncStatus.CANCELLED else "stopping at its next page"
            self.stdout.write(f"Sync run #{run.pk}: cancel requested ({state}).")

    def _scope(self, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if options["room"]:
            names = [n.strip() for n in options["room"]]
            if any(not n for n in names):
                raise CommandError("--room needs a room name, e.g. --room /my-room")
            return SyncKind.ROOM, {"room_names": sorted(set(names))}
        if options["session"]:
            ids = [s.strip() for s in options["session"]]
            if any(not s for s in ids):
                raise CommandError("--session needs a room session id, e.g. --session 6f0c…")
            return SyncKind.SESSION, {"room_session_ids": sorted(set(ids))}
        if options["external_id"] is not None:
            if not options["external_id"].strip():
                raise CommandError("--external-id needs a value")
            return SyncKind.EXTERNAL_ID, {"external_id": options["external_id"]}
        return (SyncKind.FULL if options["full"] else SyncKind.INCREMENTAL), {}

    def _enqueue(self, kind: str, scope: dict[str, Any], details: str | None) -> None:
        try:
            result = enqueue_sync(kind=kind, trigger=SyncTrigger.COMMAND, details=details, **scope)
        except QueueUnavailable as exc:
            raise CommandError(f"Cannot queue the sync: {exc}") from None
        except SyncError as exc:
            raise CommandError(str(exc)) from None
        if result.created:
            self.stdout.write(f"Queued sync run #{result.run.pk} (job {result.run.job_id})")
        else:
            self.stdout.write(f"Sync run #{result.run.pk} for the same data is already {result.run.status}")

    def _summary(self, run: SyncRun, seconds: float) -> None:
        style = self.style.SUCCESS if run.status == SyncStatus.SUCCEEDED else self.style.WARNING
        self.stdout.write(style(f"Sync run #{run.pk} {run.status} in {seconds:.1f} s"))
        self.stdout.write(
            f"API: {run.api_requests} requests, {run.api_points} points, {run.api_throttles} throttled, "
            f"{run.api_retries} retries, {run.api_bytes / 1024:.0f} KiB"
        )
        header = f"{'':<14}" + "".join(f"{k:>11}" for k in COUNT_KINDS)
        self.stdout.write(header)
        counts = run.counts()
        for model in SYNCED_MODELS:
            self.stdout.write(f"{model:<14}" + "".join(f"{counts[model][k]:>11}" for k in COUNT_KINDS))
        for reason, n in sorted((run.skip_reasons or {}).items(), key=lambda kv: -kv[1])[:10]:
            self.stdout.write(f"  skipped {n} x {printable(reason)}")
        if run.error:
            self.stdout.write(self.style.ERROR(f"Error: {printable(run.error)}"))


class _ProgressBar:
    """A tqdm bar on a terminal; silent otherwise (logs and CI stay clean)."""

    def __init__(self, *, enabled: bool) -> None:
        self._bar = None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self._bar = tqdm(total=0, unit="room", desc="syncing")

    def update(self, run: SyncRun) -> None:
        if self._bar is None:
            return
        self._bar.total = max(run.progress_total, run.progress_done)
        self._bar.n = run.progress_done
        estimate = estimate_for(run)
        if estimate is None:
            self._bar.set_postfix(api=run.api_requests, refresh=False)
        else:  # points_left and eta: estimates at the current budget (docs/budget.md)
            eta = format_duration(estimate.seconds)
            self._bar.set_postfix(
                api=run.api_requests, points_left=f"~{estimate.points}", eta=f"~{eta}", refresh=False
            )
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
