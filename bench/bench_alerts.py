"""Time of the alert rules on the bench database, the quality rule above all (one grouped query).

    python bench/bigdata.py                      # once: 1M connections in PostgreSQL insights_bench
    python bench/bench_alerts.py                 # or --database-url postgres://.../other_bench

Prints, per window and threshold: median and best of ``--repeat`` evaluations of the quality rule,
its query count, the rows it scanned and the rooms it flagged; then a whole tick (all five rules,
no delivery) and the per-room loop a hand-written rule would use, with the ratio. Never asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://root@127.0.0.1:5432/insights_bench"


def setup(url: str) -> None:
    """Point Django at the bench database."""
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("INSIGHTS_DEMO", "1")
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings"
    import django

    django.setup()


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """Median and best milliseconds of ``repeat`` calls after a warm-up, and the last result."""
    result = fn()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), min(times), result


def per_room_loop(values: dict) -> list[int]:
    """The obvious hand-written rule: two counts per room (the N+1 this app avoids)."""
    from datetime import timedelta

    from django.utils import timezone

    from insights_app.models import Participant, Room

    since = timezone.now() - timedelta(hours=float(values["QUALITY_WINDOW_HOURS"]))
    flagged = []
    for room_id in Room.objects.values_list("pk", flat=True).iterator():
        recent = Participant.objects.filter(room_id=room_id, joined_at__gte=since)
        measured = recent.filter(quality_degraded__isnull=False).count()
        degraded = recent.filter(quality_degraded=True).count()
        if (
            measured >= values["QUALITY_MIN_CONNECTIONS"]
            and 100 * degraded > values["QUALITY_DEGRADED_PERCENT"] * measured
        ):
            flagged.append(room_id)
    return flagged


def main() -> None:
    """Evaluate the rules ``--repeat`` times per case and print medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    setup(args.database_url)

    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from insights_app.alerts import rules
    from insights_app.alerts.settings import ALERT_DEFAULTS
    from insights_app.models import Participant

    total = Participant.objects.count()
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}, {total:,} connections")
    print(f"{'quality rule':<34}{'median ms':>10}{'best ms':>9}{'queries':>8}{'rows':>10}{'flagged':>8}")
    cases = [
        ("last day, 40 % (defaults)", 24, 40.0, 20),
        ("last day, 5 %, min 5", 24, 5.0, 5),
        ("last 7 days, 5 %, min 5", 24 * 7, 5.0, 5),
        ("last 30 days, 5 %, min 5", 24 * 30, 5.0, 5),
        ("all history (400 days), 5 %", 24 * 400, 5.0, 5),
    ]
    for label, hours, percent, minimum in cases:
        values = {
            **ALERT_DEFAULTS,
            "QUALITY_WINDOW_HOURS": hours,
            "QUALITY_DEGRADED_PERCENT": percent,
            "QUALITY_MIN_CONNECTIONS": minimum,
        }
        with CaptureQueriesContext(connection) as queries:
            rules.quality(values)
        median, best, findings = timed(lambda v=values: rules.quality(v), args.repeat)
        rows = Participant.objects.filter(
            joined_at__gte=timezone.now() - timedelta(hours=hours), quality_degraded__isnull=False
        ).count()
        print(f"{label:<34}{median:>10.1f}{best:>9.1f}{len(queries):>8}{rows:>10,}{len(findings):>8}")

    values = {**ALERT_DEFAULTS, "QUALITY_MIN_CONNECTIONS": 5, "QUALITY_DEGRADED_PERCENT": 5.0}
    ours, _best, _ = timed(lambda: rules.quality(values), args.repeat)
    loop, _best, _ = timed(lambda: per_room_loop(values), max(1, args.repeat // 3))
    print(f"{'per-room loop, last day (peer)':<34}{loop:>10.1f}   ratio loop/ours = {loop / ours:,.0f}x")

    def tick() -> None:
        for name, rule in rules.RULES.items():
            if name != "worker_gone":  # needs Redis; measured by the health checks elsewhere
                rule(ALERT_DEFAULTS)

    median, best, _ = timed(tick, args.repeat)
    with CaptureQueriesContext(connection) as queries:
        tick()
    print(f"{'four database rules, one tick':<34}{median:>10.1f}{best:>9.1f}{len(queries):>8}")


if __name__ == "__main__":
    main()
