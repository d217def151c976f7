"""Bench: a full sync of a large simulated organisation into PostgreSQL (details 'none' by default).

    .venv/bin/python bench/bench_sync.py [--rooms 1000 --sessions-per-room 20 --participants-per-session 5]

Starts the simulator as its own process (so it does not share our CPU time), migrates a fresh
PostgreSQL database ``insights_bench_sync`` in a process of its own, runs one full sync in-process and prints wall time,
API calls against the fewest possible, rows written and peak memory. Then runs an incremental
sync of the unchanged organisation and prints its calls. Reported, not asserted.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
API_KEY = "bench-sync-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--sessions-per-room", type=float, default=20)
    parser.add_argument("--participants-per-session", type=float, default=5)
    parser.add_argument("--details", default="none", choices=["none", "recent", "all"])
    parser.add_argument("--database", default="postgres://root@127.0.0.1:5432/insights_bench_sync")
    parser.add_argument(
        "--rollups",
        default="off",
        choices=["on", "off"],
        help="WHEREBY_INSIGHTS['ROLLUPS'] (on: the rollups are made ready before the sync, as on a new site)",
    )
    args = parser.parse_args()
    database = args.database.rsplit("/", 1)[1]  # dropped and created afresh

    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "root",
            "-d",
            "postgres",
            "-qc",
            f'DROP DATABASE IF EXISTS "{database}"',
        ],
        check=True,
    )
    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "root",
            "-d",
            "postgres",
            "-qc",
            f'CREATE DATABASE "{database}"',
        ],
        check=True,
    )
    os.environ.update(
        DATABASE_URL=args.database,
        DJANGO_SETTINGS_MODULE="project.settings",
        INSIGHTS_DEMO="1",
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/9"),
        INSIGHTS_LOG_LEVEL="WARNING",
    )
    port = free_port()
    simulator = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "insights_simulator",
            "--port",
            str(port),
            "--seed",
            "1",
            "--rooms",
            str(args.rooms),
            "--sessions-per-room",
            str(args.sessions_per_room),
            "--participants-per-session",
            str(args.participants_per_session),
            "--api-key",
            API_KEY,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for line in simulator.stdout:
            if "http://" in line:
                break
        base_url = f"http://127.0.0.1:{port}/v1"

        # Migrated by a process of its own, as a site does before its workers start: a worker never
        # migrates, and the migration's memory is not the sync's peak.
        subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "migrate", "-v0", "--skip-checks"], cwd=ROOT, check=True
        )
        import django

        django.setup()
        from django.conf import settings

        settings.WHEREBY_INSIGHTS = {
            **settings.WHEREBY_INSIGHTS,
            "API_KEY": API_KEY,
            "BASE_URL": base_url,
            "RATE_BUDGET_POINTS_PER_MINUTE": 10_000_000,
            "PLAN_POINTS_PER_MINUTE": 10_000_000,
            "DETAIL_POLICY": args.details,
            "ROLLUPS": args.rollups == "on",
        }
        if args.rollups == "on":
            from insights_app.rollups.rebuild import rebuild

            rebuild(restart=True)  # no rows yet: ready at once, so every write keeps the rollups
        from insights_app.models import Participant, Room, RoomSession
        from insights_app.sync import InProcess, create_or_get_active_run, execute_run

        run, _ = create_or_get_active_run("full", trigger="command", backend=InProcess())
        started = time.perf_counter()
        run = execute_run(run.pk, backend=InProcess())
        seconds = time.perf_counter() - started
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        rooms = Room.objects.count()
        minimum = max(1, math.ceil(rooms / 100))
        from django.db.models import Count

        for n in Room.objects.annotate(n=Count("sessions")).values_list("n", flat=True):
            minimum += max(1, math.ceil(n / 100))
        for n in RoomSession.objects.annotate(n=Count("participants")).values_list("n", flat=True):
            minimum += max(1, math.ceil(n / 100))
        participants = Participant.objects.count()
        if args.details == "all":
            minimum += Participant.objects.filter(left_at__isnull=False).count()

        print(
            f"organisation: {rooms} rooms, {RoomSession.objects.count()} sessions, {participants} connections"
        )
        print(f"full sync ({args.details} details, rollups {args.rollups}): {run.status} in {seconds:.1f} s")
        print(
            f"API calls: {run.api_requests} (fewest possible: {minimum}; ratio {run.api_requests / minimum:.3f})"
        )
        print(
            f"throughput: {participants / seconds:,.0f} connections/s, {run.api_requests / seconds:,.0f} calls/s"
        )
        print(f"peak memory of the syncing process: {peak_mib:.1f} MiB")
        if args.rollups == "on":
            report_rollups()

        again, _ = create_or_get_active_run("incremental", trigger="command", backend=InProcess())
        started = time.perf_counter()
        again = execute_run(again.pk, backend=InProcess())
        print(
            f"incremental sync of the unchanged organisation: {again.status}, {again.api_requests} calls, "
            f"{time.perf_counter() - started:.1f} s"
        )
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)


def report_rollups() -> None:
    """The rollups after the sync: cells, stale days left, and what recomputing every day once costs."""
    from insights_app import models

    cells = models.UsageHourRollup.objects.count()
    stale_model = getattr(models, "RollupStaleDay", None)
    if stale_model is None:  # before issue 24's stale-day marks: every page recomputed its days
        print(f"rollups: {cells} usage-hour cells")
        return
    from insights_app.rollups.stale import fix

    left = stale_model.objects.count()
    days = sorted(set(models.UsageHourRollup.objects.values_list("day", flat=True)))
    stale_model.objects.bulk_create([stale_model(day=day) for day in days])
    started = time.perf_counter()
    fix()
    print(
        f"rollups: {cells} usage-hour cells, {left} stale days left by the run; recomputing all "
        f"{len(days)} days once (what the run's end does): {time.perf_counter() - started:.2f} s"
    )


if __name__ == "__main__":
    main()
