"""``manage.py insights_sync``: run a sync now (progress bar, summary) or hand it to RQ with --enqueue."""

from __future__ import annotations

import contextlib
import difflib
import getpass
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from ...conf import DETAIL_POLICIES, get_settings
from ...display.budget import points_charged_text
from ...display.safetext import printable
from ...display.times import format_datetime_zoned
from ...errors import WherebyError
from ...jobs.backend import RQ_INLINE
from ...jobs.enqueue import cancel_run, enqueue_sync
from ...jobs.health import rate_budget
from ...jobs.queue import QueueUnavailable
from ...models import COUNT_KINDS, SYNCED_MODELS, Room, SyncKind, SyncRun, SyncStatus, SyncTrigger
from ...sync import SyncError, create_or_get_active_run, execute_run, finish_run, request_cancel
from ..progress import ProgressBar

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Exit codes (docs/operations.md): 0 succeeded, 1 failed or refused, 3 cancelled by someone else
# (the dashboard, insights_sync --cancel), 128 + N stopped here by signal N (130 Ctrl-C, 143 SIGTERM).
EXIT_CANCELLED = 3


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

    stopped = False
    default_hook = sys.unraisablehook

    def raise_stop(signum: int, _frame: object) -> None:
        nonlocal stopped
        stopped = True
        for number in STOP_SIGNALS:  # a second signal must not interrupt the closing of the run
            signal.signal(number, signal.SIG_IGN)
        raise StopRequested(signum)

    def quiet_after_stop(unraisable: Any) -> None:
        # An object the stop interrupted in its __init__ (a psycopg server cursor) fails in its
        # __del__ for lack of attributes: a consequence of the stop, not a traceback to print.
        if stopped and isinstance(unraisable.exc_value, AttributeError):
            return
        default_hook(unraisable)

    previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    for number in STOP_SIGNALS:
        signal.signal(number, raise_stop)
    sys.unraisablehook = quiet_after_stop
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if not stopped:  # (after a stop, the half-built objects may be collected later, on the way out)
            sys.unraisablehook = default_hook


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
        bar = ProgressBar(write=self.stdout.write, tty=self.stdout.isatty())
        try:
            run = execute_run(run.pk, backend=RQ_INLINE, on_progress=bar.update)
        except WherebyError:
            run = SyncRun.objects.get(pk=run.pk)
        finally:
            bar.close()
        failing = run.status in (SyncStatus.FAILED, SyncStatus.CANCELLED)
        # A failing run's error is said once, by the CommandError below (on stderr), not in the summary too.
        self._summary(run, time.monotonic() - started, with_error=not failing)
        if run.status == SyncStatus.CANCELLED and run.cancel_requested:
            raise CommandError(_cancelled_by_text(run), returncode=EXIT_CANCELLED)
        if failing:
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
            request_cancel(run, by=f"{name} to insights_sync (pid {os.getpid()})")
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
        by = _who_and_where()
        for run in runs:
            run = cancel_run(run, by=by)
            state = run.status if run.status == SyncStatus.CANCELLED else "stopping at its next page"
            self.stdout.write(f"Sync run #{run.pk}: cancel requested ({state}).")

    def _scope(self, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if options["room"]:
            names = [n.strip() for n in options["room"]]
            if any(not n for n in names):
                raise CommandError("--room needs a room name, e.g. --room /my-room")
            for name in names:
                problem = _room_name_problem(name)
                if problem:  # refused before a run exists: a typo leaves no failed run behind
                    raise CommandError(f"--room {printable(name)!r}: {problem}")
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

    def _summary(self, run: SyncRun, seconds: float, *, with_error: bool = True) -> None:
        style = self.style.SUCCESS if run.status == SyncStatus.SUCCEEDED else self.style.WARNING
        self.stdout.write(style(f"Sync run #{run.pk} {run.status} in {seconds:.1f} s"))
        self.stdout.write(
            f"API: {run.api_requests} requests, {points_charged_text(run)}, {run.api_throttles} throttled, "
            f"{run.api_retries} retries, {run.api_bytes / 1024:.0f} KiB"
        )
        budget = rate_budget()
        if budget is not None:  # the dashboard's words (docs/budget.md)
            self.stdout.write(f"Rate budget: {budget['spent_text']}")
            self.stdout.write(
                f"The API's limiter: {budget['limiter_text']}; points per call: {budget['costs_text']}"
            )
            if budget["rejected_text"]:
                self.stdout.write(budget["rejected_text"])
        header = f"{'':<14}" + "".join(f"{k:>11}" for k in COUNT_KINDS)
        self.stdout.write(header)
        counts = run.counts()
        for model in SYNCED_MODELS:
            self.stdout.write(f"{model:<14}" + "".join(f"{counts[model][k]:>11}" for k in COUNT_KINDS))
        for reason, n in sorted((run.skip_reasons or {}).items(), key=lambda kv: -kv[1])[:10]:
            self.stdout.write(f"  skipped {n} x {printable(reason)}")
        if run.error and with_error:
            self.stdout.write(self.style.ERROR(f"Error: {printable(run.error)}"))


def _room_name_problem(name: str) -> str:
    """Why ``name`` cannot be a Whereby room name, or "" when it could be one.

    Whereby's room names are the path of the room's URL: "/" then the name, no spaces. A well-formed
    name that no stored room has but that is close to stored ones is a typo far more often than a room
    created since the last sync, whose way in (a plain insights_sync) the message names.
    """
    if not name.startswith("/"):
        return f"room names start with '/', e.g. --room /{printable(name.lstrip('/'))[:40] or 'my-room'}"
    if len(name) < 2:
        return "'/' alone is not a room; give the room's name, e.g. --room /my-room"
    longest = Room._meta.get_field("room_name").max_length or 0
    if len(name) > longest:
        return f"a room name is at most {longest} characters (got {len(name)})"
    if any(ch.isspace() or not ch.isprintable() for ch in name):
        return "room names contain no spaces or control characters"
    if Room.objects.exists() and not Room.objects.filter(room_name=name).exists():
        close = difflib.get_close_matches(name, Room.objects.values_list("room_name", flat=True), n=3)
        if close:
            return (
                "no synced room has this name; did you mean "
                + " or ".join(repr(printable(c)) for c in close)
                + "? (A room created since the last sync: run insights_sync first.)"
            )
    return ""


def _who_and_where() -> str:
    """This shell's user and host, for the run's "cancel requested by"."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = "unknown user"
    return f"{user} from {socket.gethostname()} (insights_sync --cancel)"


def _cancelled_by_text(run: SyncRun) -> str:
    """Who stopped a run this command was running, from where and when (in the site's zone)."""
    who = printable(run.cancel_requested_by) or "someone (not recorded: an older version asked)"
    when = format_datetime_zoned(run.cancel_requested_at, "Y-m-d H:i:s")
    return (
        f"Sync run #{run.pk} was cancelled by {who} at {when}, after {run.api_requests} API calls; "
        "the next insights_sync resumes."
    )
