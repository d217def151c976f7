"""Bench: our full sync as a ratio to the floor (the fewest calls fetched, the rows COPied, both pipelined).

    REDIS_URL=redis://127.0.0.1:6379/4 nice .venv/bin/python bench/bench_floor.py --rounds 3

For each latency (0 ms and 150 ms by default) starts ONE simulator process (seed 1, real HTTP) and,
for each detail policy, runs in interleaved rounds: our full sync (``_contender_ours.py``, its own
fresh database; with ``--ours before=DIR,after=DIR`` two code trees, timed in the same run) and the floor (``peers/floor.py``: fetch only, write only with COPY and with
``executemany`` upserts, fetch and COPY pipelined; its own fresh database). Prints the medians and
our time as a ratio to the pipelined floor. The details-all and 150 ms organisations are smaller
(``--detail-rooms``, ``--latency-rooms``): a detail call per connection, and 150 ms a call, take long. Reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_peers import API_KEY, BENCH, ROOT, Simulator, django_env, fresh_database, settled_before
from peers.common import RESULT_PREFIX

PHASES = ("fetch", "copy", "executemany", "pipelined")


def run(command: list[str], env: dict[str, str] | None, log: Path, root: Path = ROOT) -> dict[str, Any]:
    """One contender process; its result line."""
    with log.open("w") as stderr:
        done = subprocess.run(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode or not lines:
        raise SystemExit(f"{command[1]} failed (exit {done.returncode}):\n{log.read_text()[-2000:]}")
    return json.loads(lines[-1][len(RESULT_PREFIX) :])


def ours(root: Path, args: argparse.Namespace, base_url: str, details: str, work: Path) -> dict[str, Any]:
    """Our full sync (the code in ``root``) into a fresh, migrated database."""
    fresh_database(args.db_prefix)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0", "--skip-checks"],
        cwd=root,
        env=django_env(args.db_prefix),
        check=True,
    )
    command = [sys.executable, str(root / "bench" / "_contender_ours.py"), "--base-url", base_url]
    command += ["--api-key", API_KEY, "--details", details, "--kind", "full"]
    return run(command, django_env(args.db_prefix), work / "ours.log", root)


def floor(_root: Path, args: argparse.Namespace, base_url: str, details: str, work: Path) -> dict[str, Any]:
    """The floor's four phases into a fresh database with our tables."""
    database = f"{args.db_prefix}_floor"
    fresh_database(database)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0", "--skip-checks"],
        cwd=ROOT,
        env=django_env(database),
        check=True,
    )
    command = [sys.executable, str(BENCH / "peers" / "floor.py"), "--base-url", base_url]
    command += ["--api-key", API_KEY, "--details", details, "--threads", str(args.threads)]
    command += ["--settled-before", settled_before(args.lookback_minutes)]
    command += ["--database", f"postgres://root@127.0.0.1:5432/{database}"]
    return run(command, None, work / "floor.log")


def load() -> str:
    """The 1-minute load average now."""
    return Path("/proc/loadavg").read_text().split()[0]


def scenario(args: argparse.Namespace, latency: int, details: str, rooms: int, work: Path) -> list[str]:
    """One detail policy at one latency; the table rows."""
    sim_args = argparse.Namespace(**{**vars(args), "latency_ms": latency, "rooms": rooms, "budget": None})
    simulator = Simulator(sim_args)
    stats = simulator.stats
    org = f"{stats['rooms']} rooms / {stats['sessions']:,} sessions / {stats['connections']:,} connections"
    print(f"latency {latency} ms: {org}", flush=True)
    lines = []
    try:
        contenders = [*((name, root, ours) for name, root in args.ours), ("floor", ROOT, floor)]
        results: dict[str, list[dict[str, Any]]] = {name: [] for name, _root, _fn in contenders}
        loads = [load()]
        for number in range(1, args.rounds + 1):
            for name, root, contender in contenders:
                before, _, _ = simulator.counts()
                result = contender(root, args, simulator.base_url, details, work)
                result["calls"] = simulator.counts()[0] - before
                results[name].append(result)
                shown = (
                    f"{result['seconds']:.2f} s, cpu {result.get('cpu_seconds', 0):.2f} s"
                    if name != "floor"
                    else ", ".join(f"{p} {v['seconds']:.2f}" for p, v in result["phases"].items())
                )
                print(
                    f"  details {details} round {number} {name}: {shown}; {result['calls']:,} calls; "
                    f"rows {result['rows']}; peak {result['peak_rss_mib']:.0f} MiB; load {load()}",
                    flush=True,
                )
            loads.append(load())
        floors = results["floor"]
        phase = {p: statistics.median(r["phases"][p]["seconds"] for r in floors) for p in PHASES}
        for name, _root, _fn in contenders[:-1]:
            runs = results[name]
            ours_s = statistics.median(r["seconds"] for r in runs)
            # Each round's own ratio (ours and the floor a minute apart, under the same load), then the median.
            paired = statistics.median(
                r["seconds"] / f["phases"]["pipelined"]["seconds"] for r, f in zip(runs, floors, strict=True)
            )
            same = all(
                runs[-1]["rows"][k] == floors[-1]["rows"][k]
                for k in ("rooms", "sessions", "participants", "details")
            )
            lines.append(
                f"| {latency} ms | {details} | {org} | {name} | {runs[-1]['calls']:,} / "
                f"{floors[-1]['calls'] // 2:,} | **{ours_s:.2f}** | {phase['fetch']:.2f} | {phase['copy']:.2f} | "
                f"{phase['executemany']:.2f} | {phase['pipelined']:.2f} | {ours_s / phase['pipelined']:.2f}x | "
                f"**{paired:.2f}x** | {max(r['peak_rss_mib'] for r in runs):.0f} | "
                f"{'' if same else 'ROWS DIFFER '}{loads[0]}–{max(loads)} |"
            )
            print(lines[-1], flush=True)
    finally:
        simulator.stop()
    return lines


def main() -> None:
    """Parse options, run each latency's scenarios, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--detail-rooms", type=int, default=20, help="rooms of the details-all organisation")
    parser.add_argument("--latency-rooms", type=int, default=20, help="rooms of the 150 ms organisation")
    parser.add_argument("--sessions-per-room", type=float, default=20)
    parser.add_argument("--participants-per-session", type=float, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--details", default="none,all", help="comma-separated: none, all")
    parser.add_argument("--latencies", default="0,150", help="comma-separated milliseconds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8, help="the floor's fetch threads")
    parser.add_argument("--lookback-minutes", type=float, default=30)
    parser.add_argument("--db-prefix", default="floor_bench")
    parser.add_argument(
        "--ours",
        default=f"ours={ROOT}",
        help="comma-separated NAME=DIR: our code trees to time in the same run (before/after a change)",
    )
    args = parser.parse_args()
    args.ours = [(name, Path(root)) for name, root in (v.split("=", 1) for v in args.ours.split(","))]
    work = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    lines = []
    for latency in (int(v) for v in args.latencies.split(",")):
        for details in args.details.split(","):
            rooms = args.rooms if details == "none" else args.detail_rooms
            lines += scenario(args, latency, details, rooms if latency == 0 else args.latency_rooms, work)
    print(f"\nmedian of {args.rounds} round(s); seconds; logs in {work}")
    print(
        "| latency | details | organisation | ours | calls ours / floor | our full sync | fetch only | "
        "write only, COPY | write only, executemany | fetch + COPY pipelined | ours / pipelined (medians) | "
        "ours / pipelined (median of each round's) | our peak RSS MiB | load |"
    )
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
