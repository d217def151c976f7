"""``manage.py insights_rollup --rebuild [--restart] | --check [--sample N] [--all]``."""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...rollups.check import check
from ...rollups.marks import enabled
from ...rollups.rebuild import BATCH_DAYS, RebuildProgress, rebuild
from ...rollups.stale import fix, waiting

REASONS = {
    "rebuilding": "a rebuild is under way (run insights_rollup --rebuild to resume it)",
    "needs_rebuild": "the rollups need a rebuild (insights_rollup --rebuild)",
    "zone_changed": "TIME_ZONE changed since the rollups were built (insights_rollup --rebuild)",
}


class Command(BaseCommand):
    help = (
        "Rebuild the report rollups from the raw rows (resumable; pages read raw rows meanwhile), or "
        "check them against the raw rows over a sample of days; --check exits 1 on any difference."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument("--rebuild", action="store_true", help="rebuild (resumes one in progress)")
        what.add_argument(
            "--check", action="store_true", help="compare with the raw rows; exit 1 on a difference"
        )
        parser.add_argument(
            "--restart", action="store_true", help="with --rebuild: start again from the first day"
        )
        parser.add_argument("--batch-days", type=int, default=BATCH_DAYS, help="days per transaction")
        parser.add_argument("--sample", type=int, default=60, help="with --check: days compared")
        parser.add_argument("--all", action="store_true", help="with --check: compare every day")
        parser.add_argument("--seed", type=int, default=None, help="with --check: the sample's random seed")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_days"] < 1 or options["sample"] < 1:
            raise CommandError("--batch-days and --sample must be at least 1")
        if not enabled():
            raise CommandError(
                "Rollups are off, so report pages read raw rows and no write keeps cells up to date: set "
                "WHEREBY_INSIGHTS['ROLLUPS'] = True on every process (web and workers), then run "
                "insights_rollup --rebuild (see docs/reports.md)."
            )
        if options["rebuild"]:
            self._rebuild(options)
        else:
            self._check(options)

    def _rebuild(self, options: dict[str, Any]) -> None:
        stop = {"asked": False}

        def ask_to_stop(signum: int, frame: Any) -> None:
            stop["asked"] = True

        previous = {s: signal.signal(s, ask_to_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            done = rebuild(
                restart=options["restart"],
                batch_days=options["batch_days"],
                progress=self._progress,
                should_stop=lambda: stop["asked"],
            )
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        if not done:
            self.stdout.write("Stopped; run insights_rollup --rebuild again to resume.")
            raise SystemExit(130)
        self.stdout.write(self.style.SUCCESS("Rollups rebuilt; report pages read them."))

    def _progress(self, p: RebuildProgress) -> None:
        self.stdout.write(f"rebuilt through {p.through}: {p.done:,} of {p.total:,} days")

    def _check(self, options: dict[str, Any]) -> None:
        # Compare what pages read: they recompute a stale day before reading its cells, so do we.
        fixed = fix()
        if fixed:
            self.stdout.write(f"recomputed {fixed:,} stale days first (as a page reading them would)")
        differences, reason = check(sample=options["sample"], seed=options["seed"], all_days=options["all"])
        for difference in differences[:200]:
            self.stdout.write(str(difference))
        if len(differences) > 200:
            self.stdout.write(f"... and {len(differences) - 200} more")
        stale = waiting()
        if stale:
            self.stdout.write(
                f"{stale:,} days turned stale again during the check (a write since): not compared; "
                "the end of a sync run or the first page reading them recomputes them."
            )
        if reason:
            self.stdout.write(f"Report pages read raw rows: {REASONS[reason]}.")
        if differences or reason:
            raise SystemExit(1)
        self.stdout.write(self.style.SUCCESS("Rollups equal the raw rows on every day compared."))
