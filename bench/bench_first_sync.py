"""Bench: a first full sync, newest history first against room by room: time to a complete last 7 days.

    .venv/bin/python bench/bench_first_sync.py [--scale 10] [--rooms 8] [--sessions 25]

Serves one simulated organisation (90 days of history, the plan in ``X-RateLimit-Limit``) and runs a
first full sync with ``--details all`` twice on an empty database, in one process: the shipped run
(``sync.horizons``: the last 7 days complete, then 30, then the rest) and the order it replaced
(room by room, ``work_on_room`` over the planned rooms). The app has only ``API_KEY`` and
``BASE_URL``, so its budget is half the plan it reads.

A 100 points/minute plan would make each run take many minutes, so time is scaled: the simulator
grants ``100 x --scale`` points a minute and every duration printed is multiplied by ``--scale``
("at 100/min"). Latency is scaled the same way (20 ms stands for 200 ms).

"Complete last 7 days" is when the last call needed for it was answered: the rooms page, the
session listings of the rooms holding such sessions, and the participants and details of every
session started in the last 7 days. Also printed: the first estimate of the points needed (after the
rooms page alone) against the points spent. Reported, not asserted. Throwaway SQLite, $REDIS_URL.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
API_KEY = "bench-first-sync-key"


def old_order(ctx) -> None:
    """The full run as it was: every room in name order, each with all its sessions and details."""
    from insights_app.sync.kinds import plan_room_work, work_on_room
    from insights_app.sync.stages import list_rooms

    refs, _listed = list_rooms(ctx)
    work = plan_room_work(ctx, refs, full=True)
    for item in work:
        work_on_room(ctx, item)
        ctx.flush(force=True)


def run_once(server, newest_first: bool) -> dict:
    """One first full sync on an empty database; the request log's times, relative to its start."""
    from django.core.management import call_command

    from insights_app.sync import InProcess, create_or_get_active_run, execute_run, finish_run
    from insights_app.sync.context import RunContext
    from insights_app.sync.estimate import estimate_for
    from insights_app.whereby.client import WherebyClient

    call_command("flush", interactive=False, verbosity=0)
    server.reset_counters()
    run, _ = create_or_get_active_run("full", trigger="command", details="all", backend=InProcess())
    estimates: list = []

    def watch(current) -> None:
        estimate = estimate_for(current)
        if estimate is not None and not estimates:
            estimates.append(estimate)

    started = time.monotonic()
    if newest_first:
        done = execute_run(run.pk, backend=InProcess(), on_progress=watch)
    else:
        client = WherebyClient.from_settings()
        run.mark_running()
        ctx = RunContext(run, client, backend=InProcess())
        old_order(ctx)
        ctx.flush(force=True)
        client.close()
        done = finish_run(run.pk)
    finished = time.monotonic()
    return {
        "log": [r for r in server.request_log if r.time >= started],
        "started": started,
        "finished": finished,
        "first_estimate": estimates[0] if estimates else None,
        "status": done.status,
    }


def seven_day_complete(result: dict, org, now: datetime) -> float:
    """Seconds from the start until the last call the last 7 days need was answered."""
    recent = {
        s["roomSessionId"]: r["roomName"]
        for r in org.room_items()
        for s in org.session_items(r["roomName"])
        if datetime.fromisoformat(s["startedAt"].replace("Z", "+00:00")) >= now - timedelta(days=7)
    }
    rooms = set(recent.values())
    needed = [
        r.time
        for r in result["log"]
        if r.path == "/insights/rooms"
        or (r.path == "/insights/room-sessions" and r.query.get("roomName") in rooms)
        or (
            r.path in ("/insights/participants", "/insights/participant")
            and r.query.get("roomSessionId") in recent
        )
    ]
    return max(needed) - result["started"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=10, help="time compression (plan 100 x scale)")
    parser.add_argument("--rooms", type=int, default=8)
    parser.add_argument("--sessions", type=int, default=25, help="sessions per room")
    parser.add_argument("--participants", type=int, default=3, help="connections per session")
    args = parser.parse_args()

    database = Path(tempfile.mkdtemp(prefix="bench-first-sync-")) / "db.sqlite3"
    os.environ.update(
        DATABASE_URL=f"sqlite:///{database}",
        DJANGO_SETTINGS_MODULE="project.settings",
        DEBUG="true",
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/9"),
        INSIGHTS_LOG_LEVEL="WARNING",
    )
    import django

    django.setup()
    import redis
    from django.conf import settings
    from django.core.management import call_command
    from django.utils import timezone

    from insights_app.conf import get_settings
    from insights_app.simulator import OrgSpec, SimulatorServer, generate_organisation

    call_command("migrate", verbosity=0)
    spec = OrgSpec(
        seed=17,
        rooms=args.rooms,
        sessions_per_room=args.sessions,
        participants_per_session=args.participants,
        days=90,
    )
    org = generate_organisation(spec)
    plan = int(100 * args.scale)
    server = SimulatorServer(org, API_KEY, points_per_minute=plan)
    server.faults.latency_ms = 200 / args.scale
    server.start()
    results = {}
    try:
        settings.WHEREBY_INSIGHTS = {"API_KEY": API_KEY, "BASE_URL": server.base_url, "DETAIL_POLICY": "all"}
        get_settings.cache_clear()
        now = timezone.now()
        for name, newest in (("newest first", True), ("room by room", False)):
            redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()  # each run learns the plan afresh
            results[name] = run_once(server, newest)
    finally:
        server.stop()

    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"organisation: {args.rooms} rooms, {args.rooms * args.sessions} sessions, ~{args.rooms * args.sessions * args.participants} connections, 90 days")  # fmt: skip
    print(f"plan {plan} points/min standing for 100/min (times x{args.scale:g}); budget auto = half the plan")
    print(f"uptime: {load}")
    for name, result in results.items():
        total = (result["finished"] - result["started"]) * args.scale / 60
        seven = seven_day_complete(result, org, now) * args.scale / 60
        points = sum(r.points for r in result["log"])
        line = f"{name:>13}: last 7 days complete at {seven:5.1f} min, whole history at {total:5.1f} min"
        line += f" (ratio {seven / total:.2f}); {len(result['log'])} calls, {points} points, status {result['status']}"
        print(line)
        estimate = result["first_estimate"]
        if estimate is not None:
            print(
                f"{'':>13}  first estimate (after the rooms page): {estimate.points} points,"
                f" {estimate.seconds * args.scale / 60:.1f} min at 100/min; spent {points} points"
            )
    ours, old = results["newest first"], results["room by room"]
    print(
        "time to a complete last 7 days, newest first / room by room: "
        f"{seven_day_complete(ours, org, now) / seven_day_complete(old, org, now):.2f}"
    )


if __name__ == "__main__":
    main()
