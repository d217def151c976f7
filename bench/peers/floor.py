"""The floor for ``bench_floor.py``: the fewest calls fetched, the same rows written, and the two pipelined.

    .venv/bin/python bench/peers/floor.py --base-url URL --api-key KEY --details none \
        --settled-before 2026-12-01T08:00:00Z --database postgres://root@127.0.0.1:5432/floor_floor

No Django and no sync engine: ``requests`` with one keep-alive session per fetch thread and psycopg 3.
Four phases, each timed on its own, each write phase into emptied tables:

- ``fetch``: every list page (rooms, each room's sessions, each session's participants) and, with
  details, the detail call of every settled connection; JSON parsed, nothing stored.
- ``copy``: the rows of what ``fetch`` read (kept in memory), COPied into our tables, one transaction
  per batch of rows.
- ``executemany``: the same rows as ``INSERT … ON CONFLICT DO UPDATE`` through ``executemany``
  (psycopg pipelines it), one transaction per batch.
- ``pipelined``: fetch threads feed one writer thread that COPies each batch as it fills.

Row values are mapped from the items as plainly as possible (times as the API's text, ``raw`` as the
item's JSON); ids are given in memory, so no row is read back.
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
import requests

from peers.common import report

BATCH_ROWS = 1000
TOTALS = (
    "totalParticipantMinutes",
    "totalRecorderMinutes",
    "totalStreamerMinutes",
    "totalUniqueParticipants",
    "totalUniqueRecorders",
    "totalUniqueStreamers",
)
TOTAL_COLUMNS = (
    "total_participant_minutes",
    "total_recorder_minutes",
    "total_streamer_minutes",
    "total_unique_participants",
    "total_unique_recorders",
    "total_unique_streamers",
)
TABLES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    # kind: (table, columns, conflict key)
    "rooms": (
        "insights_app_room",
        ("id", "raw", "room_name", "created_at", "end_at", "first_session_started_at",
         "last_session_started_at", *TOTAL_COLUMNS, "total_sessions", "rating", "total_ratings",
         "sessions_synced_signature"),
        ("room_name",),
    ),
    "sessions": (
        "insights_app_roomsession",
        ("id", "raw", "room_session_id", "room_name", "started_at", "ended_at", *TOTAL_COLUMNS, "rating",
         "total_ratings", "participants_synced_signature", "room_id"),
        ("room_session_id",),
    ),
    "participants": (
        "insights_app_participant",
        ("id", "raw", "participant_id", "device_id", "user_id", "role_name", "display_name", "joined_at",
         "left_at", "external_id", "rating", "tags", "comment", "identity", "browser", "os", "device",
         "room_id", "room_session_id"),
        ("room_session_id", "participant_id"),
    ),
    "details": (
        "insights_app_participantdetail",
        ("id", "raw", "position", "display_name", "user_role", "user_agent", "time_stamp", "sample_rate_ms",
         "samples", "events", "packet_loss_unit", "sample_count", "browser", "browser_version", "os",
         "os_version", "device", "participant_id"),
        ("participant_id", "position"),
    ),
}  # fmt: skip


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


class Rows:
    """Items turned into row tuples with ids given in memory (the caller's thread only)."""

    def __init__(self) -> None:
        self.ids = dict.fromkeys(TABLES, 0)
        self.rooms: dict[str, int] = {}
        self.sessions: dict[str, tuple[int, int]] = {}
        self.participants: dict[tuple[str, str], int] = {}

    def _next(self, kind: str) -> int:
        self.ids[kind] += 1
        return self.ids[kind]

    def rows(self, kind: str, parent: Any, items: list[Any]) -> list[tuple]:
        """The row tuples of one call's items."""
        make = getattr(self, "_" + kind)
        return [make(parent, item, n) for n, item in enumerate(items)]

    def _rooms(self, _parent: Any, i: dict, _n: int) -> tuple:
        pk = self.rooms[i["roomName"]] = self._next("rooms")
        g = i.get
        return (pk, json.dumps(i), i["roomName"], g("createdAt"), g("endAt"), g("firstSessionStartedAt"),
                g("lastSessionStartedAt"), *(g(t) for t in TOTALS), g("totalSessions"), g("rating"),
                g("totalRatings"), "")  # fmt: skip

    def _sessions(self, room_name: str, i: dict, _n: int) -> tuple:
        room = self.rooms[room_name]
        pk = self._next("sessions")
        self.sessions[i["roomSessionId"]] = (pk, room)
        g = i.get
        return (pk, json.dumps(i), i["roomSessionId"], g("roomName") or room_name, g("startedAt"), g("endedAt"),
                *(g(t) for t in TOTALS), g("rating"), g("totalRatings"), "", room)  # fmt: skip

    def _participants(self, session_id: str, i: dict, _n: int) -> tuple:
        session, room = self.sessions[session_id]
        pk = self.participants[(session_id, i["participantId"])] = self._next("participants")
        g = i.get
        return (pk, json.dumps(i), i["participantId"], g("deviceId"), g("userId"), g("roleName"),
                g("displayName"), g("joinedAt"), g("leftAt"), g("externalId"), g("rating"), _json(g("tags")),
                g("comment"), "", "", "", "", room, session)  # fmt: skip

    def _details(self, key: tuple[str, str], i: dict, n: int) -> tuple:
        g = i.get
        raw = {k: v for k, v in i.items() if k != "samples"}  # as ours: the samples have their column
        return (self._next("details"), json.dumps(raw), n, g("displayName"), g("userRole"), g("userAgent"),
                g("timeStamp"), g("sampleRateMs"), json.dumps(g("samples") or {}), _json(g("events")), "", 0,
                "", "", "", "", "", self.participants[key])  # fmt: skip


# Fetching ---------------------------------------------------------------------------------------


class Fetcher:
    """Keep-alive sessions, one per thread; every page of a list call, parsed."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base = base_url.rstrip("/")
        self.key = api_key
        self.local = threading.local()
        self.calls = 0

    def http(self) -> requests.Session:
        session = getattr(self.local, "http", None)
        if session is None:
            session = self.local.http = requests.Session()
            session.headers["Authorization"] = f"Bearer {self.key}"
        return session

    def get(self, path: str, params: dict[str, str]) -> Any:
        response = self.http().get(self.base + path, params=params, timeout=60)
        response.raise_for_status()
        self.calls += 1  # a race may lose a count: only reported, the simulator counts for real
        return response.json()

    def pages(self, path: str, params: dict[str, str]) -> list[Any]:
        items: list[Any] = []
        cursor = None
        while True:
            body = self.get(path, {**params, "limit": "100", **({"cursor": cursor} if cursor else {})})
            items.extend(body["results"])
            cursor = body.get("cursor")
            if not cursor:
                return items


def walk(
    fetcher: Fetcher,
    threads: int,
    details: bool,
    settled_before: str,
    sink: Callable[[str, Any, list[Any]], None],
) -> None:
    """Every call of a full sync, ``threads`` at a time; ``sink(kind, parent key, items)`` in this thread."""
    done: queue.Queue[tuple[str, Any, Any]] = queue.Queue()
    outstanding = 0

    def submit(kind: str, parent: Any, call: Callable[[], list[Any]]) -> None:
        nonlocal outstanding
        outstanding += 1
        future = pool.submit(call)
        future.add_done_callback(lambda f: done.put((kind, parent, f)))

    rooms = fetcher.pages("/insights/rooms", {})
    sink("rooms", None, rooms)
    with ThreadPoolExecutor(threads) as pool:
        for room in rooms:
            name = room["roomName"]
            submit("sessions", name, lambda n=name: fetcher.pages("/insights/room-sessions", {"roomName": n}))
        while outstanding:
            kind, parent, future = done.get()
            outstanding -= 1
            items = future.result()
            sink(kind, parent, items)
            if kind == "sessions":
                for s in items:
                    sid = s["roomSessionId"]
                    submit(
                        "participants",
                        sid,
                        lambda sid=sid: fetcher.pages("/insights/participants", {"roomSessionId": sid}),
                    )
            elif kind == "participants" and details:
                for p in items:
                    left = p.get("leftAt")
                    if left is None or left > settled_before:
                        continue
                    key = (parent, p["participantId"])
                    submit(
                        "details",
                        key,
                        lambda key=key: fetcher.get(
                            "/insights/participant", {"roomSessionId": key[0], "participantId": key[1]}
                        ),
                    )


# Writing ----------------------------------------------------------------------------------------


def empty(conn: psycopg.Connection) -> None:
    tables = ", ".join(table for table, _, _ in TABLES.values())
    conn.execute(f"TRUNCATE {tables} CASCADE")
    conn.commit()


def copy_batch(conn: psycopg.Connection, batch: list[tuple[str, list[tuple]]]) -> None:
    """One transaction: each kind's rows with one COPY (parents first, as they came)."""
    with conn.cursor() as cursor:
        for kind, rows in batch:
            table, columns, _ = TABLES[kind]
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    conn.commit()


def upsert_batch(conn: psycopg.Connection, batch: list[tuple[str, list[tuple]]]) -> None:
    """One transaction: each kind's rows as ``executemany`` upserts."""
    with conn.cursor() as cursor:
        for kind, rows in batch:
            table, columns, key = TABLES[kind]
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in (*key, "id"))
            sql = (
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "  # noqa: S608
                f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
            )
            cursor.executemany(sql, rows)
    conn.commit()


class Batcher:
    """Row tuples gathered by kind, handed on as a batch once BATCH_ROWS are held."""

    def __init__(self, write: Callable[[list[tuple[str, list[tuple]]]], None]) -> None:
        self.write = write
        self.held: list[tuple[str, list[tuple]]] = []
        self.count = 0

    def add(self, kind: str, rows: list[tuple]) -> None:
        if self.held and self.held[-1][0] == kind:
            self.held[-1][1].extend(rows)
        else:
            self.held.append((kind, list(rows)))
        self.count += len(rows)
        if self.count >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.held:
            self.write(self.held)
        self.held, self.count = [], 0


def write_all(conn: psycopg.Connection, fetched: list[tuple[str, Any, list[Any]]], how: Callable) -> None:
    rows = Rows()
    batcher = Batcher(lambda batch: how(conn, batch))
    for kind, parent, items in fetched:
        batcher.add(kind, rows.rows(kind, parent, items))
    batcher.flush()


def pipelined(conn: psycopg.Connection, fetcher: Fetcher, args: argparse.Namespace) -> None:
    """Fetch threads feed this thread, which makes rows; one writer thread COPies each batch."""
    batches: queue.Queue[list | None] = queue.Queue(maxsize=8)
    failure: list[BaseException] = []

    def writer() -> None:
        try:
            while (batch := batches.get()) is not None:
                copy_batch(conn, batch)
        except BaseException as exc:  # reported by the main thread
            failure.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    rows = Rows()
    batcher = Batcher(batches.put)
    try:
        walk(
            fetcher,
            args.threads,
            args.details == "all",
            args.settled_before,
            lambda kind, parent, items: batcher.add(kind, rows.rows(kind, parent, items)),
        )
        batcher.flush()
    finally:
        batches.put(None)
        thread.join()
    if failure:
        raise failure[0]


def counts(conn: psycopg.Connection) -> dict[str, int]:
    return {
        kind: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]  # noqa: S608
        for kind, (table, _, _) in TABLES.items()
    }


def timed(phases: dict[str, dict[str, float]], name: str, fn: Callable[[], None]) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    phases[name] = {
        "seconds": round(time.perf_counter() - wall, 4),
        "cpu_seconds": round(time.process_time() - cpu, 4),
    }
    print(f"  floor {name:<12} {phases[name]['seconds']:7.2f} s", file=sys.stderr, flush=True)


def main() -> None:
    """Run the four phases, print one result line with each phase's time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--details", choices=["none", "all"], default="none")
    parser.add_argument("--settled-before", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--threads", type=int, default=8, help="fetch threads (our FETCH_CONCURRENCY)")
    parser.add_argument("--phases", default="fetch,copy,executemany,pipelined")
    args = parser.parse_args()
    wanted = args.phases.split(",")
    fetcher = Fetcher(args.base_url, args.api_key)
    details = args.details == "all"
    fetched: list[tuple[str, Any, list[Any]]] = []
    phases: dict[str, dict[str, float]] = {}
    with psycopg.connect(args.database) as conn:
        timed(phases, "fetch", lambda: walk(fetcher, args.threads, details, args.settled_before,
                                            lambda *call: fetched.append(call)))  # fmt: skip
        for name, how in (("copy", copy_batch), ("executemany", upsert_batch)):
            if name in wanted:
                empty(conn)
                timed(phases, name, lambda how=how: write_all(conn, fetched, how))
        fetched.clear()
        if "pipelined" in wanted:
            empty(conn)
            timed(phases, "pipelined", lambda: pipelined(conn, fetcher, args))
        rows = counts(conn)
    report(phases.get("pipelined", phases["fetch"])["seconds"], rows, phases=phases, calls_made=fetcher.calls)


if __name__ == "__main__":
    main()
