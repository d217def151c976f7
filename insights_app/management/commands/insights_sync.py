"""``manage.py insights_sync``: run a sync now (progress bar, summary) or hand it to RQ with --enqueue."""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...conf import DETAIL_POLICIES, get_settings
from ...errors import WherebyError
from ...jobs import RQ_INLINE, QueueUnavailable, enqueue_sync
from ...models import COUNT_KINDS, SYNCED_MODELS, SyncKind, SyncRun, SyncStatus, SyncTrigger
from ...safetext import printable
from ...sync import SyncError, create_or_get_active_run, execute_run


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

    def handle(self, *args: Any, **options: Any) -> None:
        kind, scope = self._scope(options)
        if not get_settings().API_KEY:
            raise CommandError(
                "No Whereby API key: set WHEREBY_INSIGHTS['API_KEY'] (the demo reads WHEREBY_API_KEY)."
            )
        if options["enqueue"]:
            self._enqueue(kind, scope, options["details"])
            return
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
        self._bar.set_postfix(api=run.api_requests, refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
