"""Our contender for ``bench_peers.py``: one sync run in-process (the service ``manage.py insights_sync`` calls).

    DATABASE_URL=postgres://root@127.0.0.1:5432/wt12 .venv/bin/python bench/_contender_ours.py \
        --base-url URL --api-key KEY --kind full --details none
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers.common import report


def main() -> None:
    """Migrate (untimed), then time one sync run of the given kind."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--kind", choices=["full", "incremental"], default="full")
    parser.add_argument("--details", choices=["none", "all"], default="none")
    parser.add_argument("--points-per-minute", type=int, default=10_000_000)
    parser.add_argument("--fetch-concurrency", type=int, default=None, help="1 to profile in one thread")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ.setdefault("INSIGHTS_DEMO", "1")
    os.environ.setdefault("INSIGHTS_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    settings.WHEREBY_INSIGHTS = {
        **settings.WHEREBY_INSIGHTS,
        "API_KEY": args.api_key,
        "BASE_URL": args.base_url,
        "RATE_BUDGET_POINTS_PER_MINUTE": args.points_per_minute,
        "PLAN_POINTS_PER_MINUTE": args.points_per_minute,
        "DETAIL_POLICY": args.details,
        **({"FETCH_CONCURRENCY": args.fetch_concurrency} if args.fetch_concurrency else {}),
    }
    from insights_app.models import Participant, ParticipantDetail, Room, RoomSession
    from insights_app.sync import InProcess, create_or_get_active_run, execute_run

    fewest = fewest_incremental_calls() if args.kind == "incremental" else None
    started = time.perf_counter()
    cpu_started = time.process_time()
    run, _ = create_or_get_active_run(args.kind, trigger="command", backend=InProcess())
    run = execute_run(run.pk, backend=InProcess())
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started  # every thread of this process
    report(
        seconds,
        {
            "rooms": Room.objects.count(),
            "sessions": RoomSession.objects.count(),
            "participants": Participant.objects.count(),
            "details": ParticipantDetail.objects.count(),
        },
        status=str(run.status),
        api_requests=run.api_requests,
        fewest_calls=fewest,
        cpu_seconds=round(cpu_seconds, 3),
    )


def fewest_incremental_calls() -> int:
    """What an incremental sync of an unchanged organisation must call: the rooms listing, a sessions
    pages of each room with a session ongoing or ended within LOOKBACK_MINUTES, and the participants
    pages of each such session. It depends on the hour: the simulator's sessions follow office hours."""
    from collections import Counter
    from datetime import timedelta

    from django.db.models import Q
    from django.utils import timezone

    from insights_app.conf import get_settings, lookback_minutes
    from insights_app.models import Participant, RoomSession

    conf = get_settings()
    # LOOKBACK_MINUTES may be "auto" (the lag plus one schedule interval): the sync's own reading of it.
    recent = timezone.now() - timedelta(minutes=lookback_minutes(conf))
    active = RoomSession.objects.filter(Q(ended_at__isnull=True) | Q(ended_at__gte=recent))
    rooms = set(active.values_list("room_id", flat=True))
    per_room = Counter(RoomSession.objects.filter(room_id__in=rooms).values_list("room_id", flat=True))
    per_session = Counter(
        Participant.objects.filter(room_session__in=active).values_list("room_session_id", flat=True)
    )
    pages = sum(-(-n // conf.PAGE_SIZE) for n in per_room.values())
    return (
        1
        + pages
        + sum(max(1, -(-per_session[pk] // conf.PAGE_SIZE)) for pk in active.values_list("pk", flat=True))
    )


if __name__ == "__main__":
    main()
