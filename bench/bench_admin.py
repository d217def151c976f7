"""Median render time and query count of each admin page on PostgreSQL at 1M participants.

    .venv/bin/python bench/bench_admin.py            # loads the data once (a few minutes), then measures
    .venv/bin/python bench/bench_admin.py --reload   # reload the data first

Uses the PostgreSQL database ``insights_bench`` (created if missing; DATABASE_URL overrides) and
Redis database 12 for the dashboard's health checks. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote_plus

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DATABASE_URL", "postgres://root@127.0.0.1:5432/insights_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/12")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
os.environ.setdefault("INSIGHTS_DEMO", "1")

RUNS = 7
BIGDATA = ROOT / "bench" / "bigdata.py"


def ensure_database(url: str) -> None:
    """Create the bench database when it does not exist."""
    import dj_database_url
    import psycopg

    conf = dj_database_url.parse(url)
    with psycopg.connect(
        host=conf["HOST"], port=conf["PORT"] or 5432, user=conf["USER"], dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [conf["NAME"]]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{conf["NAME"]}"')


def measure(client, url: str) -> tuple[float, int, int]:
    """(median ms, queries, status) of GET url over RUNS runs after one warm-up."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)
    times = []
    for _ in range(RUNS):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), len(queries), response.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reload", action="store_true", help="reload the bench data first")
    args = parser.parse_args()
    ensure_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    import _admin_data
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import setup_test_environment

    from insights_app.models import Participant, Room, RoomSession, SyncRun

    setup_test_environment()
    call_command("migrate", verbosity=0)
    wanted = (
        _admin_data.ROOMS,
        _admin_data.SESSIONS,
        _admin_data.SESSIONS * _admin_data.PARTICIPANTS_PER_SESSION,
    )
    if args.reload or _admin_data.counts() != wanted:
        print("loading bench data ...", flush=True)
        start = time.perf_counter()
        if BIGDATA.exists():  # the shared generator (reports bench) when present, else our own
            subprocess.run(
                [sys.executable, str(BIGDATA), "--database-url", os.environ["DATABASE_URL"]], check=True
            )
        else:
            _admin_data.load()
        print(f"loaded in {time.perf_counter() - start:.0f} s", flush=True)
    if SyncRun.objects.count() < 100:
        _admin_data.load_runs()
    rooms, sessions, participants = _admin_data.counts()
    print(f"data: {rooms:,} rooms, {sessions:,} sessions, {participants:,} participants (PostgreSQL)")

    user_model = get_user_model()
    user = user_model.objects.filter(username="bench-admin").first() or user_model.objects.create_superuser(
        "bench-admin", "bench@example.com", "bench-password"
    )
    client = Client()
    client.force_login(user)

    busiest = RoomSession.objects.values("room").annotate(n=Count("id")).order_by("-n").first()
    big_room = Room.objects.get(pk=busiest["room"])
    big = f"{busiest['n']:,}-session room"
    session = RoomSession.objects.filter(room=big_room).order_by("-started_at").first()
    participant = Participant.objects.filter(details__isnull=False).order_by("pk").first()
    run = SyncRun.objects.order_by("-queued_at").first()
    some = Participant.objects.exclude(external_id=None).exclude(external_id="").order_by("pk").first()
    external_id, name_part = some.external_id, (some.display_name or "x")[:6]
    base = "/admin/insights_app"
    pages = [
        ("admin index", "/admin/"),
        ("rooms", f"{base}/room/"),
        ("rooms, search", f"{base}/room/?q=bench-room-42"),
        (f"the {big}", f"{base}/room/{big_room.pk}/change/"),
        ("sessions", f"{base}/roomsession/"),
        (f"sessions of the {big}", f"{base}/roomsession/?room={big_room.pk}"),
        ("sessions, ongoing", f"{base}/roomsession/?ongoing=yes"),
        ("session", f"{base}/roomsession/{session.pk}/change/"),
        ("participants", f"{base}/participant/"),
        ("participants, poor quality", f"{base}/participant/?quality=poor"),
        ("participants, Firefox on Linux", f"{base}/participant/?browser=Firefox&os=Linux"),
        ("participants, search display name", f"{base}/participant/?q={quote_plus(name_part)}"),
        ("participants, search external id", f"{base}/participant/?q={quote_plus(external_id)}"),
        (f"participants of the {big}", f"{base}/participant/?room={big_room.pk}"),
        ("participants of a session", f"{base}/participant/?session={session.pk}"),
        ("participant with chart", f"{base}/participant/{participant.pk}/change/"),
        ("sync runs", f"{base}/syncrun/"),
        ("sync run", f"{base}/syncrun/{run.pk}/change/"),
        ("sync dashboard", f"{base}/syncrun/dashboard/"),
        ("dashboard status JSON", f"{base}/syncrun/dashboard/status.json"),
    ]
    print(f"\n{'page':<42} {'median ms':>10} {'queries':>8} {'status':>7}")
    for label, url in pages:
        median, queries, status = measure(client, url)
        print(f"{label:<42} {median:>10.1f} {queries:>8} {status:>7}", flush=True)


if __name__ == "__main__":
    main()
