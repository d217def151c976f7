"""Median render time of every report page, against the issue's targets.

    python bench/bench_reports.py                       # PostgreSQL insights_bench (bench/bigdata.py)
    python bench/bench_reports.py --database-url sqlite:////tmp/demo.sqlite3 --demo   # SQLite, demo-sized
    python bench/bench_reports.py --sync-runs 35000 --compare /tmp/base --rounds 5   # two checkouts

Prints one line per page: median and best of ``--repeat`` renders (after a warm-up), the query count,
the target and the ratio median/target. Numbers are printed, never asserted.

``--sync-runs N`` first adds sync runs until the database holds N (a year of the default 15-minute
schedule is 35,040), so the freshness line reads a realistic run table. ``--compare PATH`` renders
the same pages with the checkout at PATH (another commit of this repository, e.g. a ``git worktree``)
and with this one, alternately in fresh processes for ``--rounds`` rounds against the same database,
with the load average before each, then prints the median of each page's medians and their ratio
(``--baseline-database-url``: the baseline reads its own copy, e.g. without a newer migration's index).
``--compare PATH --interleave`` instead keeps one process per checkout and alternates single renders
between them (order swapped each time), so both see the same load from moment to moment; it prints
each page's median wall and CPU time of ``--rounds`` x ``--repeat`` renders per side and their ratios
(both render the head's page list: a filter older code does not know, e.g. "quality 90d Chrome", is
ignored there, so those rows compare unlike pages).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://root@127.0.0.1:5432/insights_bench"


def setup(url: str) -> None:
    """Point Django at the bench database."""
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("INSIGHTS_DEMO", "1")
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings"
    os.environ.setdefault("INSIGHTS_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*"]


RUNS_SQL = """
INSERT INTO insights_app_syncrun
    (kind, scope, dedup_key, details_policy, status, trigger, job_id, batch_job_ids, queued_at, started_at,
     finished_at, heartbeat_at, cancel_requested, api_requests, api_points, api_throttles, api_retries,
     api_bytes, skip_reasons, progress_done, progress_total, error, checkpoint,
     rooms_created, rooms_updated, rooms_unchanged, rooms_skipped, sessions_created, sessions_updated,
     sessions_unchanged, sessions_skipped, participants_created, participants_updated,
     participants_unchanged, participants_skipped, details_created, details_updated, details_unchanged,
     details_skipped)
SELECT CASE WHEN g %% 672 = 4 THEN 'full' ELSE 'incremental' END, '{}'::jsonb, 'org', 'recent',
       CASE WHEN g %% 7 = 0 OR g <= 3 THEN 'partial' WHEN g %% 97 = 0 THEN 'failed' ELSE 'succeeded' END,
       'schedule', 'job-' || g, '[]'::jsonb, t, t + interval '2 seconds', t + interval '40 seconds',
       t + interval '40 seconds', false, 20, 60, 0, 0, 150000,
       CASE WHEN g %% 7 = 0 OR g <= 3 THEN jsonb_build_object('participants: missing participantId', 2,
            'room /bench-room-' || g %% 50 || ': /insights/room-sessions answered 503', g %% 2)
            ELSE '{}'::jsonb END,
       300, 300, '', jsonb_build_object('rooms', (SELECT jsonb_agg(i) FROM generate_series(1, 200) i
            WHERE g > 0), 'cursor', md5(g::text)),
       0, 5, 295, 0, 2, 3, 0, 0, 40, 10, 0, 0, 5, 0, 0, 0
FROM (SELECT g, now() - g * interval '15 minutes' AS t FROM generate_series(1, %(n)s) AS g) AS runs
"""


def add_sync_runs(total: int) -> None:
    """Add finished scheduled runs (the 3 newest and every 7th partial with a room lost) until ``total`` exist."""
    from django.db import connection

    from insights_app.models import SyncRun

    missing = total - SyncRun.objects.count()
    if missing > 0 and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(RUNS_SQL, {"n": missing})
            cursor.execute("ANALYZE insights_app_syncrun")
        print(f"added {missing} sync runs")


LINE = re.compile(r"^(\S.*?)\s+(\d+\.\d)\s+(\d+\.\d)\s+(\d+)\s+\d+\s+\d+\.\d\d$")


def compare(args: argparse.Namespace) -> None:
    """Alternate the two checkouts' benches for ``--rounds`` rounds; medians of medians and ratios."""
    checkouts = {"baseline": Path(args.compare).resolve(), "head": ROOT}
    medians: dict[str, dict[str, list[float]]] = {name: {} for name in checkouts}
    queries: dict[str, dict[str, str]] = {name: {} for name in checkouts}
    for round_no in range(args.rounds):
        for name, root in checkouts.items() if round_no % 2 == 0 else reversed(checkouts.items()):
            load = os.getloadavg()
            command = [sys.executable, str(root / "bench" / "bench_reports.py"), "--database-url"]
            url = args.baseline_database_url if name == "baseline" else args.database_url
            command += [url or args.database_url, "--repeat", str(args.repeat), "--days", str(args.days)]
            out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=root).stdout
            print(
                f"round {round_no + 1} {name:<8} load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True
            )
            for match in filter(None, map(LINE.match, out.splitlines())):
                medians[name].setdefault(match[1], []).append(float(match[2]))
                queries[name][match[1]] = match[4]
    print(f"{'page':<22}{'baseline ms':>12}{'head ms':>9}{'head/baseline':>15}{'queries':>10}")
    for page, head in medians["head"].items():
        base = medians["baseline"].get(page)
        b = statistics.median(base) if base else None
        h = statistics.median(head)
        ratio = f"{h / b:.2f}" if b else "—"
        counts = f"{queries['baseline'].get(page, '—')} → {queries['head'][page]}"
        print(f"{page:<22}{b or 0:>12.1f}{h:>9.1f}{ratio:>15}{counts:>10}")


def worker(args: argparse.Namespace) -> None:
    """Render pages named on stdin, one per line, for ``interleave``; answer "wall_ms cpu_ms"."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(
        username="insights-bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    known = {name: (url, params) for name, url, params, *_ in pages(args.days)}
    print("ready", "\t".join(known), sep="\t", flush=True)
    for line in sys.stdin:
        url, params = known[line.strip()]
        began, cpu = time.perf_counter(), time.process_time()
        response = client.get(url, params)
        wall_ms, cpu_ms = (time.perf_counter() - began) * 1000, (time.process_time() - cpu) * 1000
        assert response.status_code == 200, url
        print(f"{wall_ms:.3f} {cpu_ms:.3f}", flush=True)


def interleave(args: argparse.Namespace) -> None:
    """Alternate single renders between a baseline and a head process; medians and ratios per page."""
    roots = {"baseline": Path(args.compare).resolve(), "head": ROOT}
    procs = {}
    for name, root in roots.items():
        url = (args.baseline_database_url if name == "baseline" else None) or args.database_url
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            str(root),
            "--database-url",
            url,
        ]
        procs[name] = subprocess.Popen(
            [*command, "--days", str(args.days)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=root,
        )
        assert procs[name].stdout
        ready, *names = procs[name].stdout.readline().rstrip("\n").split("\t")
        assert ready == "ready"

    def render(name: str, page: str) -> tuple[float, float]:
        proc = procs[name]
        assert proc.stdin and proc.stdout
        proc.stdin.write(page + "\n")
        proc.stdin.flush()
        wall, cpu = proc.stdout.readline().split()
        return float(wall), float(cpu)

    print(f"{'page':<22}{'baseline ms':>12}{'head ms':>9}{'ratio':>7}{'cpu ms':>16}{'cpu ratio':>10}  load")
    for page in names:  # the head's pages
        load = os.getloadavg()
        times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in procs}
        for name in procs:
            render(name, page)  # warm-up
        for i in range(args.rounds * args.repeat):
            for name in procs if i % 2 == 0 else reversed(procs):
                wall, cpu = render(name, page)
                times[name][0].append(wall)
                times[name][1].append(cpu)
        (bw, bc), (hw, hc) = ([statistics.median(v) for v in times[n]] for n in ("baseline", "head"))
        print(
            f"{page:<22}{bw:>12.1f}{hw:>9.1f}{hw / bw:>7.2f}{bc:>8.1f} → {hc:>5.1f}{hc / bc:>10.2f}"
            f"  {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
            flush=True,
        )
    for proc in procs.values():
        assert proc.stdin
        proc.stdin.close()
        proc.wait()


def _last_days(days: int) -> dict[str, str]:
    """``start``/``end`` of a custom period: the last ``days`` local days."""
    from django.utils import timezone

    today = timezone.localdate()
    return {"start": (today - dt.timedelta(days=days - 1)).isoformat(), "end": today.isoformat()}


@contextmanager
def rollups_set_aside(raw: bool) -> Iterator[None]:
    """With ``raw``, mark the rollups as needing a rebuild for the run (pages read raw rows), then restore."""
    from insights_app.models import RollupState

    state = RollupState.objects.order_by("pk").first()
    if not raw or state is None:
        yield
        return
    RollupState.objects.filter(pk=state.pk).update(status="needs_rebuild")
    try:
        yield
    finally:
        RollupState.objects.filter(pk=state.pk).update(status=state.status)


def pages(days: int) -> list[tuple[str, str, dict, float, float]]:
    """(name, url, params, PostgreSQL target ms, SQLite target ms) for the busiest objects."""
    from django.db.models import Count
    from django.urls import reverse
    from django.utils import timezone

    from insights_app.models import Participant, ParticipantDetail, RoomSession

    since = timezone.now() - dt.timedelta(days=days)
    recent = RoomSession.objects.filter(started_at__gte=since)
    room_id = recent.values("room_id").annotate(n=Count("id")).order_by("-n")[0]["room_id"]
    session_id = recent.order_by("-total_unique_participants").values_list("id", flat=True)[0]
    detail = ParticipantDetail.objects.order_by("-sample_count").values_list("participant_id", flat=True)[0]
    person = (
        Participant.objects.filter(joined_at__gte=since, external_id__isnull=False)
        .values("external_id")
        .annotate(n=Count("id"))
        .order_by("-n")[0]["external_id"]
    )
    period = {"period": f"{days}d"}
    return [
        (f"overview {days}d", reverse("insights_app:overview"), period, 300, 150),
        ("overview 30d", reverse("insights_app:overview"), {"period": "30d"}, 500, 150),
        (
            "overview 365d",
            reverse("insights_app:overview"),
            {"period": "custom", **_last_days(365)},
            500,
            150,
        ),
        (f"room {days}d", reverse("insights_app:room", args=[room_id]), period, 500, 150),
        ("session", reverse("insights_app:session", args=[session_id]), {}, 500, 150),
        ("participant quality", reverse("insights_app:participant_quality", args=[detail]), {}, 500, 150),
        (f"quality {days}d", reverse("insights_app:quality"), period, 500, 150),
        (f"people {days}d", reverse("insights_app:people"), period, 500, 150),
        (f"person {days}d", reverse("insights_app:person", args=[person]), period, 500, 150),
        # The filters added in issue 15: quality narrowed to a browser, people searched by text.
        (
            f"quality {days}d Chrome",
            reverse("insights_app:quality"),
            {**period, "browser": "Chrome"},
            500,
            150,
        ),
        (f"people {days}d search", reverse("insights_app:people"), {**period, "q": "user-1"}, 500, 150),
    ]


def main() -> None:
    """Render every page ``--repeat`` times and print medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--demo", action="store_true", help="migrate and generate demo-sized data if empty")
    parser.add_argument("--sync-runs", type=int, default=0, help="add sync runs until this many exist")
    parser.add_argument(
        "--raw",
        action="store_true",
        help="set the rollups aside for this run: every page reads raw rows (before)",
    )
    parser.add_argument("--compare", metavar="PATH", help="another checkout to measure alternately with")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of --compare")
    parser.add_argument("--interleave", action="store_true", help="with --compare: alternate single renders")
    parser.add_argument("--worker", metavar="ROOT", help=argparse.SUPPRESS)
    parser.add_argument(
        "--baseline-database-url",
        help="the baseline's own copy (CREATE DATABASE ... TEMPLATE) when the schemas differ",
    )
    args = parser.parse_args()
    if args.compare and args.interleave:
        interleave(args)
        return
    if args.worker:
        global ROOT
        ROOT = Path(args.worker).resolve()  # the checkout whose code renders (see ``interleave``)
        setup(args.database_url)
        worker(args)
        return
    setup(args.database_url)
    if args.sync_runs:
        add_sync_runs(args.sync_runs)
    if args.compare:
        compare(args)
        return

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    if args.demo:
        call_command("migrate", verbosity=0, skip_checks=True)
        from _reports_demo import demo_data

        demo_data()
    user, _ = get_user_model().objects.get_or_create(
        username="insights-bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    sqlite = connection.vendor == "sqlite"
    print(
        f"database: {connection.vendor} {connection.settings_dict['NAME']}, {args.repeat} renders per page, "
        f"{'raw rows (rollups set aside)' if args.raw else 'rollups where the page can'}, load {os.getloadavg()[0]:.2f}"
    )
    print(f"{'page':<22}{'median ms':>10}{'best ms':>9}{'queries':>9}{'target ms':>11}{'ratio':>7}")
    with rollups_set_aside(args.raw):
        render_all(client, connection, args, sqlite)


def render_all(client: Any, connection: Any, args: argparse.Namespace, sqlite: bool) -> None:
    """Warm up, count the queries of and time every page."""
    for name, url, params, pg_target, sqlite_target in pages(args.days):
        target = sqlite_target if sqlite else pg_target
        assert client.get(url, params).status_code == 200, url
        seen: list[str] = []

        def count(execute, sql, *rest, seen=seen):
            seen.append(sql)
            return execute(sql, *rest)

        with connection.execute_wrapper(count):
            client.get(url, params)
        times = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            response = client.get(url, params)
            times.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200
        median = statistics.median(times)
        print(f"{name:<22}{median:>10.1f}{min(times):>9.1f}{len(seen):>9}{target:>11}{median / target:>7.2f}")


if __name__ == "__main__":
    main()
