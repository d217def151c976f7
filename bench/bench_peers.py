"""Bench: our sync beside its peers (dlt's ``rest_api`` source, per-object ``update_or_create``) in one run.

    REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/bench_peers.py \
        --rooms 300 --sessions-per-room 20 --participants-per-session 5 --details none

Starts ONE simulator process (real HTTP, seed 1, the real clock at start) and runs every contender
against it as its own process, interleaved (ours, dlt, per-object; then each again), each into its
own fresh PostgreSQL database. Calls are counted by the simulator itself, so every contender is
counted the same way. Checks that all contenders stored the same rooms, sessions, participants and
detail rows, then prints seconds, rows/s, calls, 429s and peak RSS, and ours/peer ratios, for the
full sync and for a re-run of the unchanged organisation (ours: an incremental sync; the peers have
no incremental mode, so they run in full again). Reported, never asserted.

dlt runs from its own venv (``--peers-python``, built from ``bench/requirements-peers.txt``); see
``bench/RESULTS.md`` for the commands.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers.common import RESULT_PREFIX

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"

API_KEY = "bench-peers-key"
CONTENDERS = ("ours", "dlt", "per-object")
COUNTS = ("rooms", "sessions", "participants", "details")


class Simulator:
    """The one simulator process every contender talks to; asks it for its call counts."""

    def __init__(self, args: argparse.Namespace) -> None:
        command = [
            sys.executable,
            str(BENCH / "_simulator_process.py"),
            "--api-key",
            API_KEY,
            "--seed",
            str(args.seed),
            "--rooms",
            str(args.rooms),
            "--sessions-per-room",
            str(args.sessions_per_room),
            "--participants-per-session",
            str(args.participants_per_session),
            "--latency-ms",
            str(args.latency_ms),
        ]
        if args.budget:
            command += ["--points-per-minute", str(args.budget)]
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        ready = self.process.stdout.readline().split()
        if not ready or ready[0] != "ready":
            raise SystemExit("the simulator did not start")
        self.base_url = ready[1]
        self.stats = dict(zip(("rooms", "sessions", "connections"), map(int, ready[2:5]), strict=True))

    def counts(self) -> tuple[int, int, int]:
        """(requests served so far, 429s and points charged since the last ask)."""
        self.process.stdin.write("count\n")
        self.process.stdin.flush()
        total, throttled, points = self.process.stdout.readline().split()
        return int(total), int(throttled), int(points)

    def stop(self) -> None:
        """Ask it to quit, then make sure it has."""
        try:
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.terminate()
            self.process.wait(timeout=10)


def psql(command: str) -> None:
    """Run one statement on the server's maintenance database."""
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "root", "-d", "postgres", "-qc", command], check=True)


def fresh_database(name: str) -> None:
    """Drop and recreate a bench database."""
    psql(f'DROP DATABASE IF EXISTS "{name}"')
    psql(f'CREATE DATABASE "{name}"')


def django_env(database: str) -> dict[str, str]:
    """Environment for a process that loads the demo project on ``database``."""
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://root@127.0.0.1:5432/{database}",
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "INSIGHTS_DEMO": "1",
        "INSIGHTS_LOG_LEVEL": "WARNING",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/9"),
    }


def settled_before(lookback_minutes: float) -> str:
    """The cutoff our sync uses for details (now minus the lookback), as the API writes times."""
    instant = datetime.now(UTC) - timedelta(minutes=lookback_minutes)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def command_for(name: str, rerun: bool, args: argparse.Namespace, work: Path) -> tuple[list[str], dict]:
    """The command line and environment of one contender run."""
    common = ["--base-url", args.base_url, "--api-key", API_KEY, "--details", args.details]
    if name == "ours":
        command = [sys.executable, str(BENCH / "_contender_ours.py"), *common]
        command += ["--kind", "incremental" if rerun else "full"]
        if args.budget:
            command += ["--points-per-minute", str(args.budget)]
        return command, django_env(args.db_prefix)
    cutoff = ["--settled-before", settled_before(args.lookback_minutes)]
    if name == "dlt":
        database = f"postgresql://root:unused@127.0.0.1:5432/{args.db_prefix}_dlt"  # trust auth
        command = [args.peers_python, str(BENCH / "peers" / "dlt_pipeline.py"), *common, *cutoff]
        command += ["--database", database, "--pipelines-dir", str(work / "dlt")]
        env = {**os.environ, "RUNTIME__LOG_LEVEL": "WARNING", "DLT_DATA_DIR": str(work / "dlt-data")}
        return command, env
    command = [sys.executable, str(BENCH / "peers" / "per_object.py"), *common, *cutoff]
    return command, django_env(f"{args.db_prefix}_perobject")


def settle(seconds: float) -> None:
    """Let the database server finish the last contender's writes before the next one is timed.

    Without it the contender that runs right after a fresh database and a migration (or after a
    peer's load) shares the disk and the cores with the server's checkpoint and background writes.
    """
    if seconds > 0:
        psql("CHECKPOINT")
        time.sleep(seconds)


def run_contender(
    name: str, rerun: bool, args: argparse.Namespace, simulator: Simulator, work: Path
) -> dict[str, Any]:
    """Run one contender process; its own timing, rows and peak RSS, plus the simulator's call count."""
    command, env = command_for(name, rerun, args, work)
    settle(args.settle_seconds)
    before, _, _ = simulator.counts()
    log = work / f"{name}{'-rerun' if rerun else ''}.log"
    with log.open("w") as stderr:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
    after, throttled, points = simulator.counts()
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode or not lines:
        tail = log.read_text()[-2000:]
        raise SystemExit(f"{name} failed (exit {done.returncode}); log {log}:\n{done.stdout[-1000:]}\n{tail}")
    result = json.loads(lines[-1][len(RESULT_PREFIX) :])
    result.update(calls=after - before, throttled=throttled, points=points)
    print(
        f"  {name:<10} {'re-run' if rerun else 'full':<6} {result['seconds']:8.2f} s  {result['calls']:7,} calls  "
        f"rows {result['rows']}"
        + (f"  (fewest possible: {result['fewest_calls']} calls)" if result.get("fewest_calls") else ""),
        flush=True,
    )
    return result


def prepare(args: argparse.Namespace, contenders: list[str]) -> None:
    """Fresh databases for every contender; Django ones migrated (untimed)."""
    for name in contenders:
        database = {"ours": args.db_prefix, "dlt": f"{args.db_prefix}_dlt"}.get(
            name, f"{args.db_prefix}_perobject"
        )
        fresh_database(database)
        if name != "dlt":
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "-v0", "--skip-checks"],
                cwd=ROOT,
                env=django_env(database),
                check=True,
            )


def table(title: str, results: dict[str, list[dict[str, Any]]]) -> None:
    """Print one scenario: medians over rounds, and ours/peer ratios."""
    print(f"\n{title}")
    print("| contender | seconds | rows/s | calls | 429s | peak RSS MiB | ours faster by (peer s / ours s) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    median = {name: statistics.median(r["seconds"] for r in runs) for name, runs in results.items()}
    for name, runs in results.items():
        rows = sum(runs[-1]["rows"].values())
        seconds = median[name]
        ratio = "" if name == "ours" or "ours" not in median else f"{seconds / median['ours']:.2f}x"
        print(
            f"| {name} | {seconds:.2f} | {rows / seconds:,.0f} | {runs[-1]['calls']:,} | "
            f"{sum(r['throttled'] for r in runs)} | {max(r['peak_rss_mib'] for r in runs):.0f} | {ratio} |"
        )


def check_counts(label: str, results: dict[str, list[dict[str, Any]]]) -> bool:
    """Whether every contender stored the same number of each kind of row."""
    seen = {name: tuple(runs[-1]["rows"][k] for k in COUNTS) for name, runs in results.items()}
    if len(set(seen.values())) == 1:
        print(f"{label}: equal row counts {dict(zip(COUNTS, next(iter(seen.values())), strict=True))}")
        return True
    print(f"{label}: ROW COUNTS DIFFER {seen}")
    return False


def main() -> None:
    """Parse options, start the simulator, run the rounds, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=300)
    parser.add_argument("--sessions-per-room", type=float, default=20)
    parser.add_argument("--participants-per-session", type=float, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--details", choices=["none", "all"], default="none")
    parser.add_argument("--latency-ms", type=int, default=0, help="simulated latency of every call")
    parser.add_argument(
        "--budget",
        type=int,
        default=None,
        help="points a minute, enforced by the simulator and given to ours",
    )
    parser.add_argument("--contenders", default=",".join(CONTENDERS), help="comma-separated subset")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds (fresh databases each)")
    parser.add_argument(
        "--no-rerun", action="store_true", help="skip the re-run of the unchanged organisation"
    )
    parser.add_argument(
        "--lookback-minutes", type=float, default=30, help="our LOOKBACK_MINUTES (details cutoff)"
    )
    parser.add_argument(
        "--db-prefix", default="wt12", help="PostgreSQL names: PREFIX, PREFIX_dlt, PREFIX_perobject"
    )
    parser.add_argument(
        "--settle-seconds",
        type=float,
        default=2.0,
        help="before each contender: a CHECKPOINT, then this long idle (0: neither)",
    )
    parser.add_argument("--peers-python", default=str(ROOT / ".venv-peers" / "bin" / "python"))
    args = parser.parse_args()
    contenders = [name.strip() for name in args.contenders.split(",") if name.strip()]
    if unknown := set(contenders) - set(CONTENDERS):
        parser.error(
            f"unknown contenders: {', '.join(sorted(unknown))} (choose from {', '.join(CONTENDERS)})"
        )
    if "dlt" in contenders and not Path(args.peers_python).exists():
        parser.error(
            f"--peers-python {args.peers_python} not found: build it from bench/requirements-peers.txt"
        )

    simulator = Simulator(args)
    args.base_url = simulator.base_url
    work = Path(tempfile.mkdtemp(prefix="bench-peers-"))
    print(
        f"simulator: {simulator.stats['rooms']} rooms, {simulator.stats['sessions']} sessions, "
        f"{simulator.stats['connections']} connections; details {args.details}; latency {args.latency_ms} ms; "
        f"budget {args.budget or 'unlimited'}; logs in {work}",
        flush=True,
    )
    full: dict[str, list] = {name: [] for name in contenders}
    rerun: dict[str, list] = {name: [] for name in contenders}
    try:
        for number in range(1, args.rounds + 1):
            print(f"round {number}", flush=True)
            prepare(args, contenders)
            shutil.rmtree(work / "dlt", ignore_errors=True)
            for name in contenders:
                full[name].append(run_contender(name, False, args, simulator, work))
            if not args.no_rerun:
                for name in contenders:
                    rerun[name].append(run_contender(name, True, args, simulator, work))
    finally:
        simulator.stop()
    equal = check_counts("full sync", full)
    table(f"Full sync, details {args.details} (median of {args.rounds} round(s))", full)
    if args.budget:
        for name, runs in full.items():
            per_minute = runs[-1]["points"] / runs[-1]["seconds"] * 60
            print(
                f"{name}: {per_minute:,.0f} points a minute = {per_minute / args.budget:.0%} of the "
                f"{args.budget:,} budget ({runs[-1]['calls']:,} calls), {runs[-1]['throttled']} 429s"
            )
    if not args.no_rerun:
        equal = check_counts("re-run", rerun) and equal
        table("Re-run of the unchanged organisation (ours: incremental; peers: full again)", rerun)
    shutil.rmtree(work, ignore_errors=True) if equal else print(f"logs kept in {work}")
    sys.exit(0 if equal else 1)


if __name__ == "__main__":
    main()
