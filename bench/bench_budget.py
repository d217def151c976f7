"""Bench: the learned budget against an organisation whose limiter, limit, costs and product spend the app is not told.

    .venv/bin/python bench/bench_budget.py [--seconds 180] [--limit 160] [--background 40]
        [--background-pattern even|random|bursty] [--limiter fixed|sliding|bucket] [--costs 5,3,2,1]
    .venv/bin/python bench/bench_budget.py --matrix [--seconds 80] [--jobs 2]

One run serves a simulated organisation (limit ``--limit`` points/minute in the ``--limiter`` shape,
``--costs`` points for rooms, room-sessions, participants and participant calls, the customer's
product spending ``--background`` points/minute from the same budget) and runs one full sync with
``--details all`` in-process, the app configured with only ``API_KEY`` and ``BASE_URL`` (so the
plan, the budget and the costs are all "auto"). After ``--seconds`` the run is cancelled. Prints,
against our share (``RATE_BUDGET_SHARE`` x the limit), from the simulator's ledger of points charged
to us: the busiest rolling minute, the points we spent while we had work, the 429s (all, and after
the first minute) and the costs learned against the true ones.

``--matrix`` runs one such cell per limiter x product pattern x cost vector (the issue's figures: a
limit of 6,000, the product spending 1,000 a minute), ``--jobs`` cells at a time in separate processes,
and prints the table. Reported, not asserted. Each cell uses a throwaway SQLite database and the Redis
at $REDIS_URL (each cell's budget is keyed by its own simulator URL).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
API_KEY = "bench-budget-key"
ENDPOINTS = ("/insights/rooms", "/insights/room-sessions", "/insights/participants", "/insights/participant")
LIMITERS = ("fixed", "sliding", "bucket")
PATTERNS = ("even", "random", "bursty")
# Cost vectors of the matrix (rooms, room-sessions, participants, participant): the 2/3/5,
# and one reaching both ends of Whereby's 1-10 with the per-participant calls dear.
COST_VECTORS = {"5/3/2/2": (5, 3, 2, 2), "10/1/4/7": (10, 1, 4, 7)}


def parse_costs(text: str) -> dict[str, int]:
    """``5,3,2,1`` (or ``5/3/2/1``) as points per endpoint, in ENDPOINTS order."""
    parts = [int(part) for part in text.replace("/", ",").split(",")]
    if len(parts) != len(ENDPOINTS) or not all(1 <= part <= 10 for part in parts):
        raise argparse.ArgumentTypeError("--costs needs four whole numbers from 1 to 10")
    return dict(zip(ENDPOINTS, parts, strict=True))


def run_cell(args: argparse.Namespace) -> dict:
    """One sync against one organisation; the figures as a dict."""
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
    from insights_app.simulator.ledger import OURS, PRODUCT

    call_command("migrate", verbosity=0)
    org = generate_organisation(
        OrgSpec(seed=11, rooms=args.rooms, sessions_per_room=20, participants_per_session=4, days=30)
    )
    server = SimulatorServer(
        org,
        API_KEY,
        points_per_minute=args.limit,
        endpoint_costs=args.costs,
        background_points_per_minute=args.background,
        background_pattern=args.background_pattern,
        limiter=args.limiter,
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
        from insights_app.whereby.budget.limiter_shape import UNKNOWN

        started = time.monotonic()
        worker.start()
        # When the app named the limiter's shape: the promise of 80 % (sliding, bucket) starts there.
        identified_at, named = None, UNKNOWN
        while worker.is_alive() and time.monotonic() - started < args.seconds:
            if identified_at is None and (shape := get_budget().shape()) != UNKNOWN:
                identified_at, named = time.monotonic(), shape
            worker.join(min(0.5, max(0.0, started + args.seconds - time.monotonic())))
        stopped = time.monotonic()
        had_work = worker.is_alive()
        request_cancel(SyncRun.objects.get(pk=run.pk))
        worker.join(30)
        figures = get_budget().figures()
        learned = get_budget().shared_costs()
        ledger = server.ledger
    finally:
        server.stop()

    ours = [s for s in ledger.spends(OURS) if started <= s.time <= stopped]
    _start, busiest = ledger.busiest(OURS, since=started, until=stopped)
    throttled = [r for r in server.request_log if r.status == 429]
    slices = [
        sum(s.points for s in ours if started + i * 15 <= s.time < started + (i + 1) * 15)
        for i in range(int((stopped - started) // 15))
    ]
    return {
        "limiter": args.limiter,
        "pattern": args.background_pattern,
        "limit": args.limit,
        "background": args.background,
        "share": 0.5 * args.limit,
        "busiest": busiest,
        "spent": sum(s.points for s in ours),
        "minutes": (stopped - started) / 60,
        "had_work": had_work,
        "calls": len(server.request_log),
        "throttled": len(throttled),
        "throttled_steady": sum(1 for r in throttled if r.time > started + 60),
        "product_points": sum(s.points for s in ledger.spends(PRODUCT) if started <= s.time <= stopped),
        "product_refused": ledger.refused[PRODUCT],
        "true_costs": {path: server.endpoint_costs.get(path, 1) for path in ENDPOINTS},
        "learned_costs": {path: learned.get(path) for path in ENDPOINTS},
        "plan": f"{figures.plan:g} ({figures.plan_source})",
        "budget": f"{figures.budget:g} ({figures.budget_source})",
        "slices": slices,
        "named": named,
        "named_after": None if identified_at is None else identified_at - started,
        "spent_since_named": None
        if identified_at is None
        else sum(s.points for s in ours if s.time >= identified_at),
    }


def print_cell(cell: dict) -> None:
    share = cell["share"]
    print(
        f"organisation: {cell['limit']} points/min, {cell['limiter']} limiter (hidden), product "
        f"{cell['background']:g}/min ({cell['pattern']}), costs {_costs(cell['true_costs'])}"
    )
    print(f"app learned: plan {cell['plan']}, budget {cell['budget']}, costs {_costs(cell['learned_costs'])}")
    print(
        f"ran {cell['minutes'] * 60:.0f} s, {'still had work (cancelled)' if cell['had_work'] else 'finished early'}"
    )
    print(
        f"calls {cell['calls']}, our points {cell['spent']}, product calls refused {cell['product_refused']}"
    )
    print(
        f"busiest rolling minute / share: {cell['busiest']}/{share:g} = {cell['busiest'] / share:.3f}  (target <= 1)"
    )
    used = cell["spent"] / cell["minutes"]
    print(f"points used / share while busy: {used:.1f}/{share:g} = {used / share:.3f}  (target >= 0.9)")
    if cell.get("named_after") is None:
        print("limiter shape: not named during the run")
    else:
        since = cell["minutes"] * 60 - cell["named_after"]
        used_named = cell["spent_since_named"] / max(since / 60, 1e-9)
        print(
            f"limiter shape named {cell['named']} after {cell['named_after']:.0f} s; points used / share "
            f"since then ({since:.0f} s): {used_named:.1f}/{share:g} = {used_named / share:.3f}  "
            "(target >= 0.8 for sliding and bucket)"
        )
    print(f"our points per 15 s: {cell['slices']}")
    print(f"429s: {cell['throttled']} in all, {cell['throttled_steady']} after the first minute  (target 0 in steady state)")  # fmt: skip


def _costs(costs: dict) -> str:
    return "/".join("?" if costs.get(path) is None else str(costs[path]) for path in ENDPOINTS)


def run_matrix(args: argparse.Namespace) -> None:
    """Every limiter x pattern x cost vector, ``--jobs`` cells at a time, each its own process."""
    cells = [
        (limiter, pattern, name) for name in COST_VECTORS for limiter in LIMITERS for pattern in PATTERNS
    ]

    def one(cell: tuple[str, str, str]) -> dict:
        limiter, pattern, name = cell
        command = [
            sys.executable, __file__, "--json", "--limiter", limiter, "--background-pattern", pattern,
            "--costs", ",".join(map(str, COST_VECTORS[name])), "--seconds", str(args.seconds),
            "--limit", str(args.limit), "--background", str(args.background), "--rooms", str(args.rooms),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
        if done.returncode != 0:
            return {"limiter": limiter, "pattern": pattern, "error": done.stderr.strip().splitlines()[-1:]}
        return json.loads(done.stdout.strip().splitlines()[-1])

    load = os.getloadavg()[0]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(one, cells))
    print(
        f"limit {args.limit}/min, share {0.5 * args.limit:g}, product {args.background:g}/min, "
        f"{args.seconds:g} s per cell, {args.jobs} cells at a time, 100 ms latency; load {load:.1f} at start"
    )
    print("| limiter | product | costs r/rs/p/d | busiest 60 s | share | pace | used while busy | named after | used since named | 429s (after 1st min) | costs learned |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for result in results:
        if "error" in result:
            print(f"| {result['limiter']} | {result['pattern']} | error: {result['error']} |||||||||")
            continue
        share = result["share"]
        used = result["spent"] / result["minutes"] / share
        named, since = "not named", "–"
        if result.get("named_after") is not None:
            named = f"{result['named']}, {result['named_after']:.0f} s"
            left = result["minutes"] * 60 - result["named_after"]
            since = f"{result['spent_since_named'] / max(left / 60, 1e-9) / share:.2f} ({left:.0f} s)"
        print(
            f"| {result['limiter']} | {result['pattern']} | {_costs(result['true_costs'])} | "
            f"{result['busiest']:,} | {share:,.0f} | {result['busiest'] / share:.2f}x | {used:.2f} | "
            f"{named} | {since} | "
            f"{result['throttled']} ({result['throttled_steady']}) | {_costs(result['learned_costs'])} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=None, help="per run (default 180; 80 per matrix cell)"
    )
    parser.add_argument("--limit", type=int, default=None, help="the organisation's points/minute (hidden)")
    parser.add_argument("--background", type=float, default=None, help="the product's points/minute (hidden)")
    parser.add_argument(
        "--background-pattern", choices=PATTERNS, default="random", help="the product's calls' spacing"
    )
    parser.add_argument("--limiter", choices=LIMITERS, default="fixed", help="the limiter's shape (hidden)")
    parser.add_argument("--costs", type=parse_costs, default=parse_costs("5,3,2,1"), help="rooms,room-sessions,participants,participant")  # fmt: skip
    parser.add_argument("--rooms", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    parser.add_argument("--matrix", action="store_true", help="every limiter x pattern x cost vector")
    parser.add_argument("--jobs", type=int, default=2, help="matrix cells at a time")
    args = parser.parse_args()
    if args.matrix:
        args.seconds = args.seconds or 80
        args.limit = args.limit or 6000
        args.background = 1000 if args.background is None else args.background
        args.rooms = args.rooms or 60
        run_matrix(args)
        return
    args.seconds = args.seconds or 180
    args.limit = args.limit or 160
    args.background = 40 if args.background is None else args.background
    args.rooms = args.rooms or 30
    cell = run_cell(args)
    if args.json:
        print(json.dumps(cell))
    else:
        print_cell(cell)


if __name__ == "__main__":
    main()
