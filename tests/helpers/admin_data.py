"""Data and users shared by the admin tests; the fixtures built from them live in conftest.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth.models import Permission
from django.utils import timezone

from insights_app.models import Participant, ParticipantDetail, Room, RoomSession
from insights_app.sync.stages import person_identity

HOSTILE_NAME = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
VIEW_PERMS = ("view_room", "view_roomsession", "view_participant", "view_syncrun")
ROLES = ("host", "visitor", "member")
BROWSERS = ("Chrome", "Firefox", "Safari")


@dataclass
class Data:
    """What ``make_data`` created, for the tests to look things up."""

    rooms: list[Room] = field(default_factory=list)
    sessions: list[RoomSession] = field(default_factory=list)
    participants: list[Participant] = field(default_factory=list)
    hostile: Participant | None = None


def make_data(rooms: int = 3, sessions_per_room: int = 4, participants_per_session: int = 3) -> Data:
    """Rooms, sessions and participants (with one quality detail each) written straight to the DB."""
    now = timezone.now()
    data = Data()
    for r in range(rooms):
        room = Room.objects.create(
            room_name=f"/room-{r}",
            created_at=now - timedelta(days=200),
            last_session_started_at=now - timedelta(hours=r + 1),
            total_sessions=sessions_per_room,
            total_participant_minutes=123.4 * (r + 1),
            total_unique_participants=participants_per_session * sessions_per_room,
            raw={"roomName": f"/room-{r}"},
        )
        data.rooms.append(room)
        for s in range(sessions_per_room):
            started = now - timedelta(days=s * 40, hours=r + 1)
            ongoing = r == 0 and s == 0
            session = RoomSession.objects.create(
                room=room,
                room_session_id=f"sess-{r}-{s}",
                room_name=room.room_name,
                started_at=started,
                ended_at=None if ongoing else started + timedelta(minutes=30),
                duration_seconds=None if ongoing else 1800,
                total_participant_minutes=60,
                total_unique_participants=participants_per_session,
                rating=4.5 if s % 2 else None,
            )
            data.sessions.append(session)
            for p in range(participants_per_session):
                poor = p == 0
                participant = synced_participant(
                    room_session=session,
                    participant_id=f"part-{r}-{s}-{p}",
                    display_name=f"Person {r}-{s}-{p}",
                    role_name=ROLES[p % len(ROLES)],
                    joined_at=started + timedelta(minutes=p),
                    left_at=None if ongoing else started + timedelta(minutes=29),
                    duration_seconds=None if ongoing else (29 - p) * 60,
                    external_id=f"ext-{p}" if p < 2 else None,
                    user_id=f"user-{p}",
                    quality_degraded=poor,
                    degraded_seconds=40.0 if poor else 0.0,
                    max_packet_loss=9.0 if poor else 0.5,
                    avg_packet_loss=2.0 if poor else 0.1,
                    browser=BROWSERS[p % len(BROWSERS)],
                    os="Linux" if p % 2 else "Mac OS X",
                )
                add_detail(participant, started, poor)
                data.participants.append(participant)
    first = data.sessions[0]
    data.hostile = synced_participant(
        room_session=first,
        participant_id="hostile",
        display_name=HOSTILE_NAME,
        role_name="visitor",
        joined_at=first.started_at + timedelta(minutes=5),
        external_id='=HYPERLINK("http://evil")',
    )
    return data


def synced_participant(room_session: RoomSession, **fields: object) -> Participant:
    """A connection as the sync stores it: with its session's room and the person it counts as."""
    return Participant.objects.create(
        room_session=room_session, room_id=room_session.room_id, identity=person_identity(fields), **fields
    )


def add_detail(participant: Participant, start: datetime, poor: bool) -> ParticipantDetail:
    """One detail item with 30 samples of 2 s; poor connections spike to 9 % loss."""
    loss = [9.0 if poor and 10 <= i < 20 else 0.5 for i in range(30)]
    return ParticipantDetail.objects.create(
        participant=participant,
        position=0,
        display_name=participant.display_name,
        user_role=participant.role_name,
        user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0",
        time_stamp=start,
        sample_rate_ms=2000,
        samples={
            "packetLossSend": loss,
            "packetLossRecv": [v / 2 for v in loss],
            "bitrateSend": [500_000] * 30,
            "bitrateRecv": [800_000] * 30,
        },
        sample_count=30,
        avg_packet_loss_send=sum(loss) / 30,
        max_packet_loss_send=max(loss),
    )


def make_user(django_user_model, username: str, perms: tuple[str, ...] = (), **extra):
    """A staff user holding the given insights_app permission codenames."""
    user = django_user_model.objects.create_user(
        username=username, password="pw-123456", is_staff=True, **extra
    )
    if perms:
        user.user_permissions.set(
            Permission.objects.filter(content_type__app_label="insights_app", codename__in=perms)
        )
    return user
