"""Median render time of every report page, against the issue's targets.

    python bench/bench_reports.py                       # PostgreSQL insights_bench (bench/bigdata.py)
    python bench/bench_reports.py --database-url sqlite:////tmp/demo.sqlite3 --demo   # SQLite, demo-sized

Prints one line per page: median and best of ``--repeat`` renders (after a warm-up), the query count,
the target and the ratio median/target. Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path

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


def demo_data(rooms: int = 30, sessions: int = 1500, participants: int = 7500, details: int = 100) -> None:
    """A demo-sized organisation through the ORM (for SQLite), if the database has no sessions yet."""
    from django.utils import timezone

    from insights_app.models import Participant, ParticipantDetail, Room, RoomSession

    if RoomSession.objects.exists():
        return
    rng = random.Random(7)
    now = timezone.now()
    room_rows = Room.objects.bulk_create(Room(room_name=f"/demo-{i}") for i in range(rooms))
    session_rows = []
    for i in range(sessions):
        start = now - dt.timedelta(days=rng.random() * 120, hours=rng.random() * 8)
        length = dt.timedelta(minutes=3 + rng.random() ** 2 * 120)
        session_rows.append(
            RoomSession(
                room=room_rows[int(rng.random() ** 2 * rooms)],
                room_session_id=f"demo-s-{i}",
                started_at=start,
                ended_at=start + length,
                duration_seconds=length.total_seconds(),
                total_participant_minutes=length.total_seconds() / 60 * 3,
                total_unique_participants=3,
                total_recorder_minutes=0,
                total_streamer_minutes=0,
            )
        )
    session_rows = RoomSession.objects.bulk_create(session_rows)
    people = []
    for i in range(participants):
        s = rng.choice(session_rows)
        degraded = rng.random() < 0.1 if rng.random() < 0.6 else None
        external_id = f"user-{rng.randrange(300)}"
        people.append(
            Participant(
                room_session=s,
                room_id=s.room_id,  # as the sync stores it: the session's room, and the person
                identity=external_id,
                participant_id=f"demo-p-{i}",
                joined_at=s.started_at,
                left_at=s.ended_at,
                duration_seconds=s.duration_seconds,
                external_id=external_id,
                display_name=f"Person {i}",
                role_name=rng.choice(["host", "visitor", "member"]),
                quality_degraded=degraded,
                degraded_seconds=0 if degraded is None else 30,
                browser=rng.choice(["Chrome", "Firefox", "Safari"]),
                os=rng.choice(["Windows", "macOS"]),
            )
        )
    people = Participant.objects.bulk_create(people)
    ParticipantDetail.objects.bulk_create(
        ParticipantDetail(
            participant=p,
            position=0,
            time_stamp=p.joined_at,
            sample_rate_ms=2000,
            sample_count=900,
            samples={
                k: [round(rng.random() * 4, 2) for _ in range(900)]
                for k in ("packetLossSend", "packetLossRecv")
            }
            | {
                k: [rng.randrange(300_000, 1_500_000) for _ in range(900)]
                for k in ("bitrateSend", "bitrateRecv")
            },
        )
        for p in people[:details]
    )
    print(
        f"generated demo data: {rooms} rooms, {sessions} sessions, {participants} connections, {details} details"
    )


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
    args = parser.parse_args()
    setup(args.database_url)

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    if args.demo:
        call_command("migrate", verbosity=0, skip_checks=True)
        demo_data()
    user, _ = get_user_model().objects.get_or_create(
        username="insights-bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    sqlite = connection.vendor == "sqlite"
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}, {args.repeat} renders per page")
    print(f"{'page':<22}{'median ms':>10}{'best ms':>9}{'queries':>9}{'target ms':>11}{'ratio':>7}")
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
