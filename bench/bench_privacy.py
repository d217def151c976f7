"""Time a retention pass (pseudonymise every connection past the retention period) over the bench data.

    python bench/bigdata.py                 # once: 1M connections in PostgreSQL insights_bench
    python bench/bench_privacy.py           # retention over --days 90, rolled back afterwards
    python bench/bench_privacy.py --commit  # keep the result (a second run then finds nothing to do)

Prints the pass's time and rows per second, the idle pass that follows it (idempotence: nothing left
to do), and the ratio against the per-object pattern (read each row, ``save()`` it) measured on a
sample in the same run. Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://root@127.0.0.1:5432/insights_bench"


class Rollback(Exception):
    """Raised to undo the bench's changes."""


def setup(url: str, days: int, batch: int) -> None:
    """Point Django at the bench database with the retention period under test."""
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("INSIGHTS_DEMO", "1")
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings"
    os.environ.setdefault("INSIGHTS_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.conf import settings

    settings.WHEREBY_INSIGHTS = {
        **getattr(settings, "WHEREBY_INSIGHTS", {}),
        "PERSONAL_DATA_RETENTION_DAYS": days,
        "RETENTION_BATCH_SIZE": batch,
    }


def per_object_rate(sample: int) -> float:
    """Rows per second of the per-object pattern: read a connection, scrub it, ``save()`` it."""
    from django.db import transaction
    from django.utils import timezone

    from insights_app.models import Participant
    from insights_app.privacy.scrub import scrub_participant

    began = time.perf_counter()
    try:
        with transaction.atomic():
            for pk in Participant.objects.order_by("joined_at").values_list("pk", flat=True)[:sample]:
                obj = Participant.objects.get(pk=pk)
                values = scrub_participant(
                    {
                        f: getattr(obj, f)
                        for f in ("display_name", "user_id", "device_id", "external_id", "comment", "raw")
                    }
                )
                for field, value in values.items():
                    setattr(obj, field, value)
                obj.pseudonymised_at = timezone.now()
                obj.save()
                for detail in obj.details.all():
                    detail.save()
            elapsed = time.perf_counter() - began
            raise Rollback
    except Rollback:
        pass
    return sample / elapsed


def main() -> None:
    """Migrate, measure the per-object sample, then one retention pass and an idle one."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--days", type=int, default=90, help="PERSONAL_DATA_RETENTION_DAYS under test")
    parser.add_argument("--batch", type=int, default=2000, help="RETENTION_BATCH_SIZE under test")
    parser.add_argument("--sample", type=int, default=2000, help="rows of the per-object comparison")
    parser.add_argument("--commit", action="store_true", help="keep the pseudonymised data")
    args = parser.parse_args()
    setup(args.database_url, args.days, args.batch)

    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from insights_app.models import Participant, ParticipantDetail
    from insights_app.privacy.hooks import retention_cutoff
    from insights_app.privacy.retention import pending_retention, run_retention

    began = time.perf_counter()
    call_command("migrate", verbosity=0, skip_checks=True)
    print(f"migrate (incl. 0005's identity pseudonyms when new): {time.perf_counter() - began:.1f} s")
    cutoff = retention_cutoff(timezone.now())
    total = Participant.objects.count()
    pending = pending_retention(cutoff).count()
    print(
        f"database: {connection.vendor} {connection.settings_dict['NAME']}: {total:,} connections, "
        f"{ParticipantDetail.objects.count():,} detail rows; {pending:,} joined more than {args.days} days ago "
        "and still hold personal data"
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = on")
    per_object = per_object_rate(args.sample)
    print(f"per-object pattern (sample of {args.sample:,}): {per_object:,.0f} rows/s")

    try:
        with transaction.atomic():
            began = time.perf_counter()
            result = run_retention(trigger="bench")
            elapsed = time.perf_counter() - began
            rate = result.participants / elapsed if elapsed else 0.0
            print(
                f"retention pass: {result.participants:,} connections and {result.details:,} detail rows "
                f"in {result.batches} batches of {args.batch}: {elapsed:.1f} s, {rate:,.0f} rows/s, "
                f"{rate / per_object:.1f}x the per-object pattern"
            )
            began = time.perf_counter()
            idle = run_retention(trigger="bench")
            print(
                f"idle pass right after: {idle.participants} connections, {time.perf_counter() - began:.3f} s"
            )
            if not args.commit:
                raise Rollback
    except Rollback:
        print("rolled back (use --commit to keep)")


if __name__ == "__main__":
    main()
