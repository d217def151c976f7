"""Bench: the learned budget against an organisation whose limit, costs and product spend the app is not told.

    .venv/bin/python bench/bench_budget.py [--seconds 180] [--limit 160] [--background 40] [--background-pattern even]

Serves a simulated organisation (limit ``--limit`` points/minute, points per endpoint below, the
customer's product spending ``--background`` points/minute from the same budget) and runs one full
sync with ``--details all`` in-process, the app configured with only ``API_KEY`` and ``BASE_URL``
(so the plan, the budget and the costs are all "auto"). After ``--seconds`` the run is cancelled.
Prints, as ratios against our share (``RATE_BUDGET_SHARE`` x the limit): the busiest rolling minute
of our points, the points we spent while we had work, and the 429s (all, and after the first minute).
Reported, not asserted. Uses a throwaway SQLite database and the Redis at $REDIS_URL.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
API_KEY = "bench-budget-key"
HIDDEN_COSTS = {
    "/insights/rooms": 5,
    "/insights/room-sessions": 3,
    "/insights/participants": 2,
    "/insights/participant": 1,
}


def busiest_minute(records: list) -> tuple[float, int]:
    """The start and the points of the rolling 60 s holding the most of our points."""
    best = (0.0, 0)
    end = 0
    total = 0
    for start_index, first in enumerate(records):
        while end < len(records) and records[end].time < first.time + 60:
            total += records[end].points
            end += 1
        if total > best[1]:
            best = (first.time, total)
        total -= first.points
        if start_index + 1 > end:
            end = start_index + 1
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--limit", type=int, default=160, help="the organisation's points/minute (hidden)")
    parser.add_argument("--background", type=float, default=40, help="the product's points/minute (hidden)")
    parser.add_argument(
        "--background-pattern",
        choices=("random", "even"),
        default="random",
        help="the product's calls' spacing",
    )
    parser.add_argument("--rooms", type=int, default=30)
    args = parser.parse_args()

    database = Path(tempfile.mkdtemp(prefix="bench-budget-")) / "db.sqlite3"
    os.environ.update(
        DATABASE_URL=f"sqlite:///{database}",
        DJANGO_SETTINGS_MODULE="project.settings",
        DEBUG="true",
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/9"),
        INSIGHTS_LOG_LEVEL=os.environ.get("INSIGHTS_LOG_LEVEL", "WARNING"),
    )
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from insights_app.simulator import OrgSpec, SimulatorServer, generate_organisation

    call_command("migrate", verbosity=0)
    org = generate_organisation(
        OrgSpec(seed=11, rooms=args.rooms, sessions_per_room=20, participants_per_session=4, days=30)
    )
    server = SimulatorServer(
        org,
        API_KEY,
        points_per_minute=args.limit,
        endpoint_costs=HIDDEN_COSTS,
        background_points_per_minute=args.background,
        background_pattern=args.background_pattern,
    )
    server.faults.latency_ms = 100  # across the internet a call takes 100-300 ms
    server.start()
    try:
        settings.WHEREBY_INSIGHTS = {"API_KEY": API_KEY, "BASE_URL": server.base_url, "DETAIL_POLICY": "all"}
        from insights_app.conf import get_settings
        from insights_app.models import SyncRun
        from insights_app.sync import InProcess, create_or_get_active_run, execute_run, request_cancel
        from insights_app.whereby.budget.current import get_budget

        get_settings.cache_clear()
        run, _ = create_or_get_active_run("full", trigger="command", details="all", backend=InProcess())
        result: dict = {}
        worker = threading.Thread(
            target=lambda: result.setdefault("run", execute_run(run.pk, backend=InProcess())), daemon=True
        )
        started = time.monotonic()
        worker.start()
        worker.join(args.seconds)
        stopped = time.monotonic()
        had_work = worker.is_alive()
        request_cancel(SyncRun.objects.get(pk=run.pk))
        worker.join(30)
        figures = get_budget().figures()
        learned = get_budget().shared_costs()
    finally:
        server.stop()

    ours = sorted(server.request_log, key=lambda r: r.time)
    busy = [r for r in ours if r.time <= stopped]
    share = 0.5 * args.limit
    _start, busiest = busiest_minute(busy)
    elapsed_minutes = (stopped - started) / 60
    spent = sum(r.points for r in busy)
    throttled = [r for r in ours if r.status == 429]
    steady = [r for r in throttled if r.time > started + 60]
    print(
        f"organisation: {args.limit} points/min (hidden), product {args.background:g}/min "
        f"({args.background_pattern}), costs {HIDDEN_COSTS}"
    )
    print(
        f"app learned: plan {figures.plan:g} ({figures.plan_source}), budget {figures.budget:g}"
        f" ({figures.budget_source}), costs {learned}"
    )
    print(f"ran {stopped - started:.0f} s, {'still had work (cancelled)' if had_work else 'finished early'}")
    print(f"calls {len(busy)}, our points {spent}, product calls refused {server.background_refused}")
    print(f"busiest rolling minute / share: {busiest}/{share:g} = {busiest / share:.3f}  (target <= 1)")
    print(f"points used / share while busy: {spent / elapsed_minutes:.1f}/{share:g} = {spent / elapsed_minutes / share:.3f}"
          "  (target >= 0.9)")  # fmt: skip
    slices = [
        sum(r.points for r in busy if started + i * 15 <= r.time < started + (i + 1) * 15)
        for i in range(int((stopped - started) // 15))
    ]
    print(f"our points per 15 s: {slices}")
    print(f"429s: {len(throttled)} in all, {len(steady)} after the first minute  (target 0 in steady state)")


if __name__ == "__main__":
    main()
