"""Demo-sized report data through the ORM, for ``bench_reports.py --demo`` on SQLite."""

from __future__ import annotations

import datetime as dt
import random


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
