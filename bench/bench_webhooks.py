"""Bench: a simulated day, polling every 15 minutes against webhooks plus an hourly safety net.

    .venv/bin/python bench/bench_webhooks.py [--rooms 30 --delay 1 --hours 24]
        [--lag MINUTES [--lag-spread MINUTES] [--lag-outlier-share SHARE]] [--json]

One process, speeded up: the simulator's organisation (served over real HTTP) and the app share one
pinned virtual clock (time-machine), moved a minute at a time through a day. Each mode starts from
the same organisation and a fully synced PostgreSQL database ``insights_bench_webhooks``:

- polling: an incremental sync every 15 minutes (``SCHEDULE_INTERVAL_MINUTES``' default);
- webhooks: the simulator's signed events go through the real endpoint (Django's test client, the
  real view, store and processing jobs); RQ's scheduled jobs run when the virtual clock reaches
  them; an incremental sync every hour is the safety net.

Queued jobs run in this process after each minute (no worker forks: the virtual clock is pinned here). It prints, per mode,
freshness (from a session's end to all its participants being in the DB, with their leave time:
median and p95, in minutes), sessions never reached, and API points: as the simulator's ledger
charged them, apart from what the app booked in ``SyncRun.api_points``; then the two goals:
p95 <= delay + 2 min (with a lag: <= lag + spread + 2 min), and webhook points <= half of polling's,
as charged. Quality details are off in both modes (``DETAIL_POLICY='none'``): they cost one call per
connection either way. ``--json`` prints one JSON object instead of the tables.

``--lag`` gives the simulator Whereby's data lag (an ended session shows ended that much later);
``--lag-spread`` draws each session's lag from lag .. lag + spread (seeded). With ``--lag`` (even 0)
and no ``--delay``, the app runs at its own settings (``"auto"``: it learns the lag); without ``--lag``
the delay is 1 minute.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
API_KEY = "bench-webhooks-key"
SECRET = "bench-webhooks-secret"  # noqa: S105  (signs the bench's own deliveries)


def psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "root", "-d", "postgres", "-qc", sql], check=True)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=30)
    parser.add_argument("--sessions-per-room", type=float, default=9, help="over --days of history")
    parser.add_argument("--participants-per-session", type=float, default=4)
    parser.add_argument("--days", type=float, default=2, help="days of history before the measured day")
    parser.add_argument("--hours", type=float, default=24, help="length of the measured period")
    parser.add_argument(
        "--delay",
        type=float,
        default=None,
        help="WEBHOOK_SYNC_DELAY_MINUTES (default: 1 without --lag, else the app's setting)",
    )
    parser.add_argument(
        "--lag",
        type=float,
        default=None,
        help="the simulator's data lag in minutes (given, even 0: app defaults)",
    )
    parser.add_argument("--lag-spread", type=float, default=0.0, help="each session's lag: lag .. lag + this")
    parser.add_argument("--lag-outlier-share", type=float, default=0.0, help="share of sessions 60 min late")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--poll-minutes", type=int, default=15)
    parser.add_argument("--safety-net-minutes", type=int, default=60)
    parser.add_argument("--start", default="2026-11-02T00:00:00Z", help="virtual start (a Monday)")
    parser.add_argument("--db", default="insights_bench_webhooks", help="PostgreSQL database (recreated)")
    args = parser.parse_args()
    # Without --lag the bench is the lag-free day of before, with a 1-minute delay; with --lag (even 0)
    # the app runs at its own settings unless --delay is given.
    lag_given = args.lag is not None or bool(args.lag_spread)
    args.lag = args.lag or 0.0
    args.lag_given = lag_given
    if args.delay is None and not lag_given:
        args.delay = 1.0
    DB_NAME = args.db

    psql(f"DROP DATABASE IF EXISTS {DB_NAME}")
    psql(f"CREATE DATABASE {DB_NAME}")
    os.environ.update(
        DATABASE_URL=f"postgres://root@127.0.0.1:5432/{DB_NAME}",
        DJANGO_SETTINGS_MODULE="project.settings",
        INSIGHTS_DEMO="1",
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/9"),
        INSIGHTS_LOG_LEVEL="WARNING",
    )
    import django

    django.setup()
    logging.getLogger("rq").setLevel(logging.WARNING)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    results = {mode: run_mode(mode, args) for mode in ("polling", "webhooks")}
    report(results, args)


def run_mode(mode: str, args: argparse.Namespace) -> dict:
    """One simulated day in ``mode``; returns freshness samples and points."""
    import redis
    import time_machine
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import override_settings
    from django.urls import reverse
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    from insights_app.jobs import enqueue
    from insights_app.jobs import queue as job_queue
    from insights_app.models import Participant, RoomSession, SyncRun
    from insights_app.simulator import OrgSpec, SimulatorServer, generate_organisation
    from insights_app.simulator.ledger import OURS
    from insights_app.simulator.webhooks import events_between, sign
    from insights_app.sync import InProcess, service
    from insights_app.webhooks import jobs as webhook_jobs

    # Jobs run here after each virtual minute, when that minute's deliveries have all arrived: a
    # drain waiting for more of a burst would only add a second of real time per minute.
    webhook_jobs.LINGER_SECONDS = 0

    start = datetime.fromisoformat(args.start.replace("Z", "+00:00"))
    history_end = start
    spec = OrgSpec(
        seed=11,
        rooms=args.rooms,
        sessions_per_room=args.sessions_per_room,
        participants_per_session=args.participants_per_session,
        days=args.days,
        max_samples=60,
        now=history_end,
        live=True,
        lag_minutes=args.lag,
        lag_spread_minutes=args.lag_spread,
        lag_outlier_share=args.lag_outlier_share,
        lag_outlier_minutes=max(60.0, args.lag + args.lag_spread),
    )
    org = generate_organisation(spec)
    server = SimulatorServer(org, api_key=API_KEY).start()
    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    call_command("flush", interactive=False, verbosity=0)
    conf = {
        **settings.WHEREBY_INSIGHTS,
        "API_KEY": API_KEY,
        "BASE_URL": server.base_url,
        "PLAN_POINTS_PER_MINUTE": 1_000_000,
        "RATE_BUDGET_POINTS_PER_MINUTE": 1_000_000,
        "DETAIL_POLICY": "none",
        "WEBHOOK_SECRET": SECRET,
        "FANOUT_MIN_ROOMS": 1_000_000,
    }
    if args.delay is not None:
        conf["WEBHOOK_SYNC_DELAY_MINUTES"] = args.delay
    minutes = int(args.hours * 60)
    interval = args.poll_minutes if mode == "polling" else args.safety_net_minutes
    ended_at: dict[str, datetime] = {}
    expected: dict[str, int] = {}
    fresh_after: dict[str, float] = {}
    answer_ms: list[float] = []  # the endpoint's time to answer each delivery (verify, store, queue)
    with override_settings(WHEREBY_INSIGHTS=conf), time_machine.travel(start, tick=False) as clock:
        queue = job_queue.get_queue()
        registry = ScheduledJobRegistry(queue=queue)
        client = Client()
        url = reverse("insights_app:whereby_webhook")
        # The starting point: everything up to now in the database (not counted).
        run, _ = service.create_or_get_active_run("full", trigger="command", backend=InProcess())
        service.execute_run(run.pk, backend=InProcess())
        first_counted_run = SyncRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        requests_before = sum(server.counters.values())
        charged_before = server.ledger.total(OURS)
        log_before = len(server.request_log)
        last_ms = org.now_ms
        for minute in range(1, minutes + 1):
            org.advance(60)
            now = start + timedelta(minutes=minute)
            clock.move_to(now)
            if mode == "webhooks":
                for event in events_between(org, last_ms, org.now_ms):
                    body = _json(event)
                    header = sign(SECRET, int(time.time()), body)
                    began = time.perf_counter()
                    response = client.post(
                        url,
                        body,
                        content_type="application/json",
                        HTTP_HOST="127.0.0.1",
                        HTTP_WHEREBY_SIGNATURE=header,
                    )
                    answer_ms.append((time.perf_counter() - began) * 1000)
                    if response.status_code >= 300:
                        raise RuntimeError(
                            f"webhook refused: {response.status_code} {response.content[:200]}"
                        )
            last_ms = org.now_ms
            # Sessions that ended this minute, and how many connections each had.
            for session in _sessions_ended(org, now - timedelta(minutes=1), now):
                ended_at[session.session_id] = _dt(session.end)
                expected[session.session_id] = len(session.conns)
            if minute % interval == 0:
                enqueue.enqueue_sync(kind="incremental", trigger="schedule")
            for job_id in registry.get_jobs_to_schedule(int(now.timestamp())):
                registry.remove(job_id)
                queue.enqueue_job(Job.fetch(job_id, connection=queue.connection))
            _run_queued(queue)
            _mark_fresh(ended_at, expected, fresh_after, now, Participant, RoomSession)
        learned = _lag_learned()
    server.stop()
    charged = server.ledger.total(OURS) - charged_before
    requests = sum(server.counters.values()) - requests_before
    by_endpoint: dict[str, int] = {}
    for record in server.request_log[log_before:]:
        by_endpoint[record.path] = by_endpoint.get(record.path, 0) + record.points
    points = sum(SyncRun.objects.filter(pk__gt=first_counted_run).values_list("api_points", flat=True))
    runs = SyncRun.objects.filter(pk__gt=first_counted_run).count()
    by_trigger: dict[str, list[int]] = {}
    for trigger, kind, run_points in SyncRun.objects.filter(pk__gt=first_counted_run).values_list(
        "trigger", "kind", "api_points"
    ):
        tally = by_trigger.setdefault(f"{trigger} {kind}", [0, 0])
        tally[0] += 1
        tally[1] += run_points
    never = [sid for sid in ended_at if sid not in fresh_after]
    # The acceptance's own count: sessions that ended more than the lag (upper end) + 5 minutes
    # before the end of the day and are still not in the database.
    settled_by = start + timedelta(minutes=minutes - args.lag - args.lag_spread - 5)
    never_settled = [sid for sid in never if ended_at[sid] < settled_by]
    return {
        "fresh": list(fresh_after.values()),
        "sessions": len(ended_at),
        "never": len(never),
        "never_settled": len(never_settled),
        "points": charged,
        "points_booked": points,
        "requests": requests,
        "runs": runs,
        "by_endpoint": by_endpoint,
        "answer_ms": answer_ms,
        "by_trigger": by_trigger,
        "lag_learned": learned,
    }


def _lag_learned() -> dict:
    """What the app learned of the lag by the end of the day (sync.lag), in minutes."""
    from insights_app.sync import lag

    seen = lag.figures()

    def minutes(delta):
        return None if delta is None else round(delta.total_seconds() / 60, 2)

    return {
        "sessions": seen.sessions,
        "close": seen.close,
        "median": minutes(seen.median),
        "p90": minutes(seen.p90),
        "learned": minutes(seen.learned),
        "first_look": minutes(lag.first_look()[0]),
    }


def _run_queued(queue) -> None:
    """Run every queued job in this process, in queue order (jobs may queue more): a worker without forks."""
    from rq.job import Job

    while True:
        raw = queue.connection.lpop(queue.key)
        if raw is None:
            return
        job = Job.fetch(raw.decode(), connection=queue.connection)
        job.perform()


def _json(event: dict) -> bytes:
    import json

    return json.dumps(event, separators=(",", ":")).encode()


def _dt(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def _sessions_ended(org, since: datetime, until: datetime) -> list:
    low, high = since.timestamp() * 1000, until.timestamp() * 1000
    return [s for room in org._builder.rooms for s in room.sessions if low < s.end <= high]


def _mark_fresh(ended_at, expected, fresh_after, now, Participant, RoomSession) -> None:
    """Sessions whose every connection is stored with its leave time count as fresh from ``now``."""
    from django.db.models import Count, Q

    waiting = [sid for sid in ended_at if sid not in fresh_after]
    if not waiting:
        return
    stored = dict(
        RoomSession.objects.filter(room_session_id__in=waiting, ended_at__isnull=False)
        .annotate(n=Count("participants", filter=Q(participants__left_at__isnull=False)))
        .values_list("room_session_id", "n")
    )
    for sid in waiting:
        if sid in stored and stored[sid] >= expected[sid]:
            fresh_after[sid] = (now - ended_at[sid]).total_seconds() / 60


def summary(results: dict, args: argparse.Namespace) -> dict:
    """The figures ``--json`` prints: per mode freshness, sessions never reached and points charged."""
    modes = {}
    for name, r in results.items():
        modes[name] = {
            "sessions_ended": r["sessions"],
            "fresh_median_minutes": round(statistics.median(r["fresh"]), 2) if r["fresh"] else None,
            "fresh_p95_minutes": round(p95(r["fresh"]), 2) if r["fresh"] else None,
            "fresh_max_minutes": round(max(r["fresh"]), 2) if r["fresh"] else None,
            "never_reached": r["never"],
            "never_reached_settled": r["never_settled"],
            "points_charged": r["points"],
            "points_booked": r["points_booked"],
            "requests": r["requests"],
            "sync_runs": r["runs"],
            "lag_learned": r["lag_learned"],
        }
    hook, poll = modes["webhooks"], modes["polling"]
    bound = goal_minutes(args)
    ratio = hook["points_charged"] / poll["points_charged"] if poll["points_charged"] else None
    return {
        "lag_minutes": args.lag,
        "lag_spread_minutes": args.lag_spread,
        "lag_outlier_share": args.lag_outlier_share,
        "delay_minutes": args.delay if args.delay is not None else "app setting",
        "hours": args.hours,
        "rooms": args.rooms,
        "modes": modes,
        "goal_p95_minutes": bound,
        "goal_p95_met": hook["fresh_p95_minutes"] is not None and hook["fresh_p95_minutes"] <= bound,
        "points_ratio": round(ratio, 3) if ratio is not None else None,
        "goal_points_met": ratio is not None and ratio <= 0.5,
        "goal_all_settled_stored": hook["never_reached_settled"] == 0,
        "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
    }


def goal_minutes(args: argparse.Namespace) -> float:
    """Webhooks' p95 goal: lag (upper end of a spread) + 2 min; without a lag, delay + 2 min."""
    if args.lag_given:
        return args.lag + args.lag_spread + 2
    return (args.delay or 0) + 2


def report(results: dict, args: argparse.Namespace) -> None:
    if args.json:
        import json

        print(json.dumps(summary(results, args)))
        return
    poll, hook = results["polling"], results["webhooks"]
    print()
    print(
        f"Simulated {args.hours:g} h, {args.rooms} rooms, {poll['sessions']} sessions ended; "
        f"lag {args.lag:g} (+{args.lag_spread:g}) min, webhook delay {args.delay} min, details off"
    )
    print(
        "| mode | freshness median (min) | freshness p95 (min) | never fresh (of them settled) "
        "| API points charged | points booked | sync runs |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, label in (
        ("polling", f"polling every {args.poll_minutes} min"),
        ("webhooks", f"webhooks + {args.safety_net_minutes}-min safety net"),
    ):
        r = results[name]
        median = statistics.median(r["fresh"]) if r["fresh"] else float("nan")
        high = p95(r["fresh"]) if r["fresh"] else float("nan")
        print(
            f"| {label} | {median:.1f} | {high:.1f} | {r['never']} ({r['never_settled']}) | {r['points']} "
            f"| {r['points_booked']} | {r['runs']} |"
        )
    for name in ("polling", "webhooks"):
        parts = ", ".join(f"{path} {points}" for path, points in sorted(results[name]["by_endpoint"].items()))
        print(f"{name}: points by endpoint: {parts}")
        runs = ", ".join(
            f"{key} {n} runs {pts} points" for key, (n, pts) in sorted(results[name]["by_trigger"].items())
        )
        print(f"{name}: by trigger and kind: {runs}")
    print("webhooks: lag learned (minutes):", hook["lag_learned"])
    answers = hook["answer_ms"]
    if answers:
        print(
            f"webhook endpoint answer time over {len(answers)} deliveries: median "
            f"{statistics.median(answers):.1f} ms, p95 {p95(answers):.1f} ms, max {max(answers):.1f} ms "
            "(Whereby times out after 5 s)"
        )
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    goal_fresh = p95(hook["fresh"]) <= goal_minutes(args) if hook["fresh"] else False
    ratio = hook["points"] / poll["points"] if poll["points"] else float("nan")
    print(f"goal p95 <= {goal_minutes(args):g} min: {'met' if goal_fresh else 'NOT met'}")
    print(
        f"webhook points / polling points = {ratio:.2f} (goal <= 0.50: {'met' if ratio <= 0.5 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
