"""Fill a PostgreSQL database with a year of synthetic Whereby data, set-based (INSERT ... SELECT).

    python bench/bigdata.py --rooms 5000 --sessions 200000 --participants 1000000 --details 2000

Creates the database (default ``insights_bench``) if missing, migrates it, empties the app's tables
and generates rooms, sessions, connections and detail rows spread over ``--days`` days with office-hour
peaks, popular rooms, reconnects, ongoing sessions and ~10 % degraded connections; then analyses the
tables and rebuilds the report rollups (``insights_rollup --rebuild``), as a bulk load must.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://root@127.0.0.1:5432/insights_bench"

ROOMS_SQL = """
INSERT INTO insights_app_room (room_name, raw, created_at, sessions_synced_signature)
SELECT '/bench-room-' || g, '{}'::jsonb, %(now)s::timestamptz - interval '400 days' + g * interval '1 minute', ''
FROM generate_series(1, %(rooms)s) AS g
"""

# Popular rooms get most sessions (power law), weekdays and office hours most starts.
SESSIONS_SQL = """
INSERT INTO insights_app_roomsession
    (room_id, room_session_id, room_name, started_at, ended_at, duration_seconds, raw,
     participants_synced_signature, total_participant_minutes, total_recorder_minutes,
     total_streamer_minutes, total_unique_participants, rating, total_ratings)
SELECT r.id, 'bench-session-' || s.g, r.room_name, s.started_at,
       s.started_at + s.length, extract(epoch FROM s.length), '{}'::jsonb, '',
       0, CASE WHEN random() < 0.05 THEN round((random() * 60)::numeric, 1) ELSE 0 END,
       CASE WHEN random() < 0.02 THEN round((random() * 90)::numeric, 1) ELSE 0 END, 0,
       CASE WHEN random() < 0.2 THEN 3 + floor(random() * 3) END,
       CASE WHEN random() < 0.2 THEN 1 + floor(random() * 4) END
FROM (
    SELECT g,
           (SELECT min(id) FROM insights_app_room) + floor(power(random(), 3) * %(rooms)s)::bigint AS room_id,
           date_trunc('day', %(now)s::timestamptz - random() * (%(days)s * interval '1 day'))
             + (7 + floor(random() * 11)) * interval '1 hour' + random() * interval '1 hour' AS started_at,
           interval '3 minutes' + power(random(), 2) * interval '150 minutes' AS length
    FROM generate_series(1, %(sessions)s) AS g
) AS s
JOIN insights_app_room r ON r.id = s.room_id
"""

WEEKENDS_SQL = """
UPDATE insights_app_roomsession SET started_at = started_at - interval '2 days',
    ended_at = ended_at - interval '2 days'
WHERE extract(isodow FROM started_at) >= 6 AND random() < 0.8
"""

ONGOING_SQL = """
UPDATE insights_app_roomsession SET started_at = %(now)s::timestamptz - random() * interval '50 minutes',
       ended_at = NULL, duration_seconds = NULL
WHERE id IN (SELECT id FROM insights_app_roomsession ORDER BY random() LIMIT %(ongoing)s)
"""

PARTICIPANTS_SQL = """
INSERT INTO insights_app_participant
    (room_session_id, room_id, participant_id, device_id, user_id, role_name, display_name, joined_at,
     left_at, external_id, identity, rating, duration_seconds, raw, quality_degraded, degraded_seconds,
     max_packet_loss, avg_packet_loss, browser, os, device)
SELECT p.session_id, p.room_id, 'bench-p-' || p.g, 'dev-' || p.person, 'wb-' || p.person,
       (ARRAY['host','member','visitor','visitor','visitor','owner','viewer','recorder'])[1 + floor(random() * 8)::int],
       'Person ' || p.person, p.joined_at, p.left_at, p.external_id,
       -- As the sync's person_identity: external id, else user id (device and participant id never win here).
       coalesce(p.external_id, 'wb-' || p.person),
       CASE WHEN random() < 0.05 THEN 1 + floor(random() * 5) END,
       extract(epoch FROM p.left_at - p.joined_at), '{}'::jsonb,
       p.degraded, CASE WHEN p.degraded IS NULL THEN NULL WHEN p.degraded
           THEN extract(epoch FROM p.left_at - p.joined_at) * random() * 0.4 ELSE 0 END,
       CASE WHEN p.degraded IS NULL THEN NULL WHEN p.degraded THEN 3 + random() * 20 ELSE random() * 3 END,
       CASE WHEN p.degraded IS NULL THEN NULL WHEN p.degraded THEN 2 + random() * 5 ELSE random() END,
       (ARRAY['Chrome','Chrome','Chrome','Safari','Firefox','Edge'])[1 + floor(random() * 6)::int],
       (ARRAY['Windows','Windows','macOS','iOS','Android','Linux'])[1 + floor(random() * 6)::int],
       (ARRAY['desktop','desktop','mobile','tablet'])[1 + floor(random() * 4)::int]
FROM (
    SELECT q.g, q.session_id, s.room_id, q.person, q.degraded,
           CASE WHEN q.person %% 10 < 7 THEN 'user-' || q.person END AS external_id,
           s.started_at + random() * coalesce(s.ended_at - s.started_at, %(now)s::timestamptz - s.started_at) * 0.3 AS joined_at,
           CASE WHEN s.ended_at IS NULL THEN NULL
                ELSE s.ended_at - random() * (s.ended_at - s.started_at) * 0.3 END AS left_at
    FROM (
        SELECT g,
               (SELECT min(id) FROM insights_app_roomsession) + floor(random() * %(sessions)s)::bigint AS session_id,
               floor(power(random(), 2) * %(people)s)::int AS person,
               CASE WHEN random() < 0.6 THEN random() < 0.1 END AS degraded
        FROM generate_series(1, %(participants)s) AS g
    ) AS q
    JOIN insights_app_roomsession s ON s.id = q.session_id
) AS p
"""

ONGOING_PARTICIPANTS_SQL = """
UPDATE insights_app_participant SET duration_seconds = NULL WHERE left_at IS NULL
"""

TOTALS_SQL = """
UPDATE insights_app_roomsession s SET total_participant_minutes = t.minutes,
       total_unique_participants = t.people
FROM (
    SELECT room_session_id, coalesce(sum(extract(epoch FROM coalesce(left_at, %(now)s::timestamptz) - joined_at)), 0) / 60 AS minutes,
           count(DISTINCT identity) AS people
    FROM insights_app_participant GROUP BY room_session_id
) AS t
WHERE s.id = t.room_session_id
"""

ROOM_TOTALS_SQL = """
UPDATE insights_app_room r SET total_sessions = t.n, total_participant_minutes = t.minutes,
       first_session_started_at = t.first, last_session_started_at = t.last
FROM (
    SELECT room_id, count(*) AS n, sum(total_participant_minutes) AS minutes,
           min(started_at) AS first, max(started_at) AS last
    FROM insights_app_roomsession GROUP BY room_id
) AS t
WHERE r.id = t.room_id
"""

DETAILS_SQL = """
INSERT INTO insights_app_participantdetail
    (participant_id, position, raw, time_stamp, sample_rate_ms, samples, packet_loss_unit, sample_count,
     avg_packet_loss_send, max_packet_loss_send, avg_packet_loss_recv, max_packet_loss_recv,
     avg_bitrate_send, avg_bitrate_recv, degraded_seconds, browser, browser_version, os, os_version, device,
     display_name, user_role)
SELECT p.id, 0, '{}'::jsonb, p.joined_at, 2000,
       jsonb_build_object(
         'packetLossSend', (SELECT jsonb_agg(round((random() * random() * 8)::numeric, 2)) FROM generate_series(1, p.n) WHERE p.id > 0),
         'packetLossRecv', (SELECT jsonb_agg(round((random() * random() * 6)::numeric, 2)) FROM generate_series(1, p.n) WHERE p.id > 0),
         'bitrateSend', (SELECT jsonb_agg(floor(300000 + random() * 900000)) FROM generate_series(1, p.n) WHERE p.id > 0),
         'bitrateRecv', (SELECT jsonb_agg(floor(500000 + random() * 1500000)) FROM generate_series(1, p.n) WHERE p.id > 0)),
       'percent', p.n, p.avg_packet_loss, p.max_packet_loss, p.avg_packet_loss, p.max_packet_loss,
       750000, 1250000, p.degraded_seconds, p.browser, '120', p.os, '', p.device, p.display_name, p.role_name
FROM (
    SELECT id, joined_at, avg_packet_loss, max_packet_loss, degraded_seconds, browser, os, device,
           display_name, role_name,
           least(greatest(floor(coalesce(duration_seconds, 600) / 2), 1), 5400)::int AS n
    FROM insights_app_participant
    WHERE quality_degraded IS NOT NULL
    ORDER BY joined_at DESC
    LIMIT %(details)s
) AS p
"""


def ensure_database(url: str) -> None:
    """Create the database named in ``url`` when it does not exist."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def migrate(url: str) -> None:
    """Bring the schema up to date with the app's migrations."""
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "-v", "0", "--skip-checks"],
        check=True,
        env=_env(url),
        cwd=ROOT,
    )


def _env(url: str) -> dict[str, str]:
    """The environment of a ``manage.py`` run against ``url``."""
    return {
        **os.environ,
        "DATABASE_URL": url,
        "INSIGHTS_DEMO": "1",
        "DJANGO_SETTINGS_MODULE": "project.settings",
    }


def step(conn: object, label: str, sql: str, params: dict) -> None:
    """Run one statement and say how long it took."""
    began = time.monotonic()
    cur = conn.execute(sql, params)
    print(f"{label:<28} {cur.rowcount:>10,} rows  {time.monotonic() - began:6.1f} s", flush=True)


def generate(url: str, args: argparse.Namespace) -> None:
    """Empty the app's data tables and generate everything in one transaction."""
    import psycopg

    params = {
        "rooms": args.rooms,
        "sessions": args.sessions,
        "participants": args.participants,
        "details": args.details,
        "days": args.days,
        "ongoing": args.ongoing,
        "people": max(args.participants // 25, 10),
        # The app's clock, not the database server's now(): the benches measure windows from it.
        "now": datetime.now(UTC),
    }
    began = time.monotonic()
    with psycopg.connect(url) as conn:
        conn.execute(f"SELECT setseed({args.seed})")
        conn.execute(
            "TRUNCATE insights_app_participantdetail, insights_app_participant, insights_app_roomsession,"
            " insights_app_room RESTART IDENTITY CASCADE"
        )
        step(conn, "rooms", ROOMS_SQL, params)
        step(conn, "sessions", SESSIONS_SQL, params)
        step(conn, "weekend thinning", WEEKENDS_SQL, params)
        step(conn, "ongoing sessions", ONGOING_SQL, params)
        step(conn, "participants", PARTICIPANTS_SQL, params)
        step(conn, "ongoing connections", ONGOING_PARTICIPANTS_SQL, params)
        step(conn, "session totals", TOTALS_SQL, params)
        step(conn, "room totals", ROOM_TOTALS_SQL, params)
        step(conn, "participant details", DETAILS_SQL, params)
        # The foreign keys are deferred; CLUSTER refuses to run while their checks are pending.
        step(conn, "check foreign keys", "SET CONSTRAINTS ALL IMMEDIATE", {})
        # A sync appends sessions and connections as they happen, so rows sit on disk roughly in time
        # order; random generation order would make every date-range scan a random read.
        step(
            conn,
            "cluster sessions by start",
            "CLUSTER insights_app_roomsession USING insights_session_started",
            {},
        )
        step(
            conn,
            "cluster connections by join",
            "CLUSTER insights_app_participant USING insights_part_joined",
            {},
        )
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        step(conn, "vacuum analyze", "VACUUM ANALYZE", {})
    rebuilt = time.monotonic()
    # A bulk load bypasses the app's write paths: the report rollups are rebuilt from the raw rows.
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "insights_rollup", "--rebuild", "--batch-days", "31"],
        check=True,
        env=_env(url),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    print(f"{'rollups rebuilt':<28} {'':>10}       {time.monotonic() - rebuilt:6.1f} s", flush=True)
    with psycopg.connect(url, autocommit=True) as conn:
        step(conn, "analyze rollups", "ANALYZE", {})
    print(f"done in {time.monotonic() - began:.1f} s")


def main() -> None:
    """Parse the sizes, create and migrate the database, generate."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--rooms", type=int, default=5000)
    parser.add_argument("--sessions", type=int, default=200_000)
    parser.add_argument("--participants", type=int, default=1_000_000)
    parser.add_argument(
        "--details", type=int, default=2000, help="detail rows, for the most recent connections"
    )
    parser.add_argument("--ongoing", type=int, default=20, help="sessions still going on")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=float, default=0.42)
    args = parser.parse_args()
    if not urlsplit(args.database_url).scheme.startswith("postgres"):
        parser.error("bigdata.py generates PostgreSQL data; pass a postgres:// --database-url")
    ensure_database(args.database_url)
    migrate(args.database_url)
    generate(args.database_url, args)


if __name__ == "__main__":
    main()
