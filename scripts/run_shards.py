"""Run pytest as N parts at once (``--shard K/N``), each on a Redis database and test database of its own.

    python scripts/run_shards.py --shards 2 -- -m integration -p no:cacheprovider

The suite mostly waits, so its parts share the machine well. Part 1 keeps the environment as given;
part K > 1 uses Redis database ``db - 5 * (K - 1)`` of ``REDIS_URL`` (15 -> 10: CI's legs use 11-15,
their second parts 6-10) and its own database: ``<name>_s<K>`` on PostgreSQL, ``<file>-s<K>.sqlite3``
on SQLite. Each part writes to ``var/shards/<label>-<K>.log`` (label: ``redis<db>`` unless given);
the logs are printed when all are done.
Exits non-zero if any part failed. SIGINT and SIGTERM stop every part (as a SIGINT, so pytest
tears down what its tests started).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DB_STEP = 5
NO_TESTS_COLLECTED = 5


def redis_url_for(url: str, part: int) -> str:
    """``url`` with its database moved down ``DB_STEP`` per part after the first."""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    db = base - DB_STEP * (part - 1)
    if db < 1:
        raise SystemExit(
            f"run_shards: REDIS_URL database {base} leaves no database for part {part} (needs >= 1)"
        )
    return urlunsplit(parts._replace(path=f"/{db}"))


def database_url_for(url: str, part: int) -> str:
    """``url`` (PostgreSQL or SQLite) naming a database of the part's own."""
    if part == 1:
        return url
    if url.startswith("sqlite:"):
        stem = url.removesuffix(".sqlite3")
        return f"{stem}-s{part}.sqlite3"
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"{parts.path}_s{part}"))


def part_env(part: int) -> dict[str, str]:
    """The environment of part ``part``: its own Redis database and test database."""
    env = dict(os.environ)
    if part == 1:
        return env
    env["REDIS_URL"] = redis_url_for(env.get("REDIS_URL", "redis://127.0.0.1:6379/15"), part)
    database = env.get("DATABASE_URL") or f"sqlite:///{ROOT / 'var' / 'db.sqlite3'}"
    env["DATABASE_URL"] = database_url_for(database, part)
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument(
        "--label", default=None, help="names the parts' log files (default: the Redis database)"
    )
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.shards < 1:
        parser.error(f"--shards must be at least 1, not {args.shards}")
    pytest_args = args.pytest_args[1:] if args.pytest_args[:1] == ["--"] else args.pytest_args
    if args.shards == 1:
        return subprocess.call([sys.executable, "-m", "pytest", *pytest_args], cwd=ROOT)  # noqa: S603  (our own argv)
    label = args.label or "redis" + urlsplit(os.environ.get("REDIS_URL", "/15")).path.strip("/")
    logs = ROOT / "var" / "shards"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    running: list[tuple[int, subprocess.Popen, Path]] = []
    for part in range(1, args.shards + 1):
        log = logs / f"{label}-{part}.log"
        with log.open("wb") as out:
            command = [sys.executable, "-m", "pytest", f"--shard={part}/{args.shards}", *pytest_args]
            # A session of its own: a Ctrl-C reaches each part once, from here.
            process = subprocess.Popen(  # noqa: S603  (our own argv: pytest and its arguments)
                command,
                cwd=ROOT,
                env=part_env(part),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            running.append((part, process, log))

    def stop(_signum: int, _frame: object) -> None:
        # SIGINT whatever arrived: pytest then runs its teardowns, which stop the workers and servers
        # its tests started (a SIGTERM would end it at once and leave them running).
        for _part, process, _log in running:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    codes = {}
    for part, process, _log in running:
        codes[part] = process.wait()
    failed = []
    for part, _process, log in running:
        print(f"===== part {part}/{args.shards} (exit {codes[part]}) =====", flush=True)
        sys.stdout.write(log.read_text(errors="replace"))
        if codes[part] not in (0, NO_TESTS_COLLECTED):
            failed.append(part)
    took = time.monotonic() - started
    print(
        f"===== {args.shards} parts in {took:.0f} s; " + (f"failed: {failed}" if failed else "all passed"),
        flush=True,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
