"""Live presence from client and session events, ordered by ``createdAt`` so arrival order does not matter."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from ..display.names import shown_name
from ..display.roles import role_label
from ..display.times import format_datetime
from ..models import LiveConnection, LiveRoom, Participant, Room, RoomSession, WebhookEvent
from .events import count, data_of, text

# Connections that left long ago are only history; the synced tables hold that.
KEEP_LEFT = timedelta(days=1)
# A join this old, in a room with no event since as long, is a ghost: its leave (and the room's
# session end) were lost. Whereby sends a count with every join and leave, so a room with people
# coming and going stays trusted; the safety net's health uses the same span.
TRUSTED_FOR = timedelta(hours=12)


def event_time(event: WebhookEvent) -> datetime:
    """When the event happened: Whereby's ``createdAt``, else when we received it."""
    return event.created_at or event.received_at


def _room_counts(room_name: str, data: dict[str, Any], at: datetime) -> None:
    """Set the room's client count unless a later event already did."""
    clients = count(data.get("numClients"))
    if clients is None:
        return
    by_role = data.get("numClientsByRoleName")
    by_role = {str(k)[:64]: count(v) for k, v in by_role.items()} if isinstance(by_role, dict) else {}
    LiveRoom.objects.bulk_create([LiveRoom(room_name=room_name)], ignore_conflicts=True)
    LiveRoom.objects.filter(Q(counted_at__isnull=True) | Q(counted_at__lte=at), room_name=room_name).update(
        num_clients=clients, num_clients_by_role_name=by_role, counted_at=at
    )
    if clients == 0:  # the room was empty then: whoever joined before and never said goodbye has left
        LiveConnection.objects.filter(room_name=room_name, left_at__isnull=True, joined_at__lt=at).update(
            left_at=at
        )


def _connection(event: WebhookEvent, data: dict[str, Any], **moment: Any) -> LiveConnection:
    """The connection a client event is about, as its data describes the person, plus ``moment``."""
    return LiveConnection(
        participant_id=event.participant_id,
        room_name=event.room_name,
        room_session_id=event.room_session_id,
        display_name=text(data.get("displayName"), 512),
        external_id=text(data.get("externalId"), 255),
        role_name=text(data.get("roleName"), 64),
        **moment,
    )


def client_joined(event: WebhookEvent) -> str:
    """Record a join (an earlier or later leave of the same connection keeps it absent)."""
    data, at = data_of(event.raw), event_time(event)
    if not event.participant_id or not event.room_name:
        return "no participantId or roomName: presence unchanged"
    LiveConnection.objects.bulk_create(
        [_connection(event, data, is_dial_in=data.get("isDialIn") is True, joined_at=at)],
        update_conflicts=True,
        unique_fields=["participant_id"],
        update_fields=[
            "room_name",
            "room_session_id",
            "display_name",
            "external_id",
            "role_name",
            "is_dial_in",
            "joined_at",
        ],
    )
    # A join older than the room's last known session end belongs to a session that is over.
    ended = (
        LiveRoom.objects.filter(room_name=event.room_name).values_list("session_ended_at", flat=True).first()
    )
    if ended is not None and ended >= at:
        LiveConnection.objects.filter(participant_id=event.participant_id, left_at__isnull=True).update(
            left_at=ended
        )
    _room_counts(event.room_name, data, at)
    return "joined"


def client_left(event: WebhookEvent) -> str:
    """Record a leave, whether or not the join has arrived yet."""
    data, at = data_of(event.raw), event_time(event)
    if not event.participant_id or not event.room_name:
        return "no participantId or roomName: presence unchanged"
    LiveConnection.objects.bulk_create(
        [_connection(event, data, left_at=at)],
        update_conflicts=True,
        unique_fields=["participant_id"],
        update_fields=["left_at"],
    )
    _room_counts(event.room_name, data, at)
    return "left"


def session_started(event: WebhookEvent) -> str:
    """Note when the room's current session began."""
    if not event.room_name:
        return "no roomName"
    at = event_time(event)
    LiveRoom.objects.bulk_create([LiveRoom(room_name=event.room_name)], ignore_conflicts=True)
    LiveRoom.objects.filter(
        Q(session_started_at__isnull=True) | Q(session_started_at__lt=at), room_name=event.room_name
    ).update(session_started_at=at)
    return "session started"


def session_ended(event: WebhookEvent) -> str:
    """Empty the room as of the end: connections that joined before it and never said goodbye have left."""
    if not event.room_name:
        return "no roomName"
    at = event_time(event)
    LiveRoom.objects.bulk_create([LiveRoom(room_name=event.room_name)], ignore_conflicts=True)
    LiveRoom.objects.filter(
        Q(counted_at__isnull=True) | Q(counted_at__lte=at), room_name=event.room_name
    ).update(num_clients=0, num_clients_by_role_name={}, counted_at=at)
    LiveRoom.objects.filter(
        Q(session_ended_at__isnull=True) | Q(session_ended_at__lt=at), room_name=event.room_name
    ).update(session_ended_at=at)
    LiveConnection.objects.filter(room_name=event.room_name, left_at__isnull=True, joined_at__lte=at).update(
        left_at=at
    )
    LiveConnection.objects.filter(room_name=event.room_name, left_at__lt=at - KEEP_LEFT).delete()
    return "session ended"


@dataclass
class RoomNow:
    """One room with people in it now: from webhooks (live), or from a sync that saw its session ongoing."""

    room_name: str
    num_clients: int | None
    people: list[LiveConnection] | list[Participant] = field(default_factory=list)
    # When the room's current session began, as far as webhooks or the API say.
    since: datetime | None = None
    # The sync that saw the session ongoing; None when webhooks (fresher) tell.
    synced_at: datetime | None = None
    report_url: str = ""

    @property
    def count(self) -> int:
        """Whereby's ``numClients`` when known, else the people we saw join."""
        return self.num_clients if self.num_clients is not None else len(self.people)


def ghosts(now: datetime, older_than: timedelta = TRUSTED_FOR) -> QuerySet[LiveConnection]:
    """Joins never closed, older than ``older_than``, in a room with no count since as long."""
    cutoff = now - older_than
    counted = LiveRoom.objects.filter(room_name=OuterRef("room_name"), counted_at__gte=cutoff)
    return LiveConnection.objects.filter(joined_at__lt=cutoff, left_at__isnull=True).exclude(Exists(counted))


def _webhook_rooms(now: datetime, room_name: str | None, limit: int) -> dict[str, RoomNow]:
    """Rooms with people in them as webhooks tell; ghosts left out."""
    present = LiveConnection.objects.filter(joined_at__isnull=False, left_at__isnull=True).exclude(
        pk__in=ghosts(now).values("pk")
    )
    if room_name is not None:
        present = present.filter(room_name=room_name)
    rooms: dict[str, RoomNow] = {}
    for conn in present.order_by("room_name", "joined_at")[:limit]:
        rooms.setdefault(conn.room_name, RoomNow(conn.room_name, None)).people.append(conn)  # type: ignore[arg-type]
    live = LiveRoom.objects.filter(room_name__in=list(rooms))
    for name, clients, started, ended in live.values_list(
        "room_name", "num_clients", "session_started_at", "session_ended_at"
    ):
        rooms[name].num_clients = clients
        if started is not None and (ended is None or started > ended):
            rooms[name].since = started
    for room in rooms.values():
        first_join = min(p.joined_at for p in room.people if p.joined_at)
        room.since = min(room.since, first_join) if room.since else first_join
    return rooms


def synced_sessions(now: datetime, room_name: str | None = None) -> QuerySet[RoomSession]:
    """Sessions the API listed without an end, written by a sync of the last 12 hours, unless webhooks
    said the room's session ended since it began (a later ``room.session.ended`` clears it)."""
    ended_since = LiveRoom.objects.filter(
        room_name=OuterRef("room__room_name"), session_ended_at__gte=OuterRef("started_at")
    )
    sessions = RoomSession.objects.filter(
        ended_at__isnull=True, started_at__isnull=False, synced_at__gte=now - TRUSTED_FOR
    ).exclude(Exists(ended_since))
    if room_name is not None:
        sessions = sessions.filter(room__room_name=room_name)
    return sessions


def _gone_by_webhooks(person: Participant, live: LiveRoom | None, seen: set[str]) -> bool:
    """Webhooks know better about this connection: they saw it (joined: listed already; left: gone),
    or counted its room empty after it joined."""
    if person.participant_id in seen:
        return True
    return bool(
        live is not None
        and live.num_clients == 0
        and live.counted_at is not None
        and person.joined_at is not None
        and live.counted_at >= person.joined_at
    )


def _add_synced_people(now: datetime, room_name: str | None, limit: int, rooms: dict[str, RoomNow]) -> None:
    """Add whom the API listed as connected in each room's latest ongoing session a recent sync saw,
    as far as webhooks (fresher where they exist) do not say otherwise; "since" is the session's start."""
    latest: dict[int, tuple[str, RoomSession]] = {}
    names: set[str] = set()
    sessions = synced_sessions(now, room_name).select_related("room").order_by("-started_at")[:limit]
    for session in sessions:
        name = session.room.room_name
        if name not in names:  # an older session left open in the same room: the latest tells
            names.add(name)
            latest[session.pk] = (name, session)
    connected = list(
        Participant.objects.filter(
            room_session_id__in=list(latest), joined_at__isnull=False, left_at__isnull=True
        ).order_by("joined_at")[:limit]
    )
    seen = set(
        LiveConnection.objects.filter(participant_id__in=[p.participant_id for p in connected]).values_list(
            "participant_id", flat=True
        )
    )
    live = {r.room_name: r for r in LiveRoom.objects.filter(room_name__in=names)}
    for person in connected:
        name, session = latest[person.room_session_id]
        if _gone_by_webhooks(person, live.get(name), seen):
            continue
        room = rooms.setdefault(name, RoomNow(name, None))
        room.people.append(person)  # type: ignore[arg-type]
        room.synced_at = session.synced_at
        if session.started_at and (room.since is None or session.started_at < room.since):
            room.since = session.started_at


def _report_urls(rooms: list[RoomNow]) -> None:
    """Link each room to its report when the reports are mounted and the room is stored."""
    try:
        reverse("insights_app:room", args=[1])
    except NoReverseMatch:
        return
    pks = dict(Room.objects.filter(room_name__in=[r.room_name for r in rooms]).values_list("room_name", "pk"))
    for room in rooms:
        if room.room_name in pks:
            room.report_url = reverse("insights_app:room", args=[pks[room.room_name]])


def in_rooms_now(room_name: str | None = None, limit: int = 200) -> list[RoomNow]:
    """Who is in which room now, busiest rooms first (no API call).

    Webhooks tell who joined and left since they began; a session the last syncs saw without an end adds
    the people the API listed as connected whom webhooks never saw ("as of" that sync): those who
    joined before webhooks began, or before this process first heard of the room.
    """
    now = timezone.now()
    rooms = _webhook_rooms(now, room_name, limit)
    _add_synced_people(now, room_name, limit, rooms)
    ordered = sorted(rooms.values(), key=lambda r: (-r.count, r.room_name))
    _report_urls(ordered)
    return ordered


def presence_json(room_name: str | None = None) -> list[dict[str, Any]]:
    """``in_rooms_now`` as plain data for the pages' script (text only; the script builds no HTML).

    Times come written in the site's zone, as the page first drew them (not the browser's zone).
    """
    return [
        {
            "room_name": room.room_name,
            "num_clients": room.count,
            "report_url": room.report_url,
            "since": format_datetime(room.since),
            "synced_at": format_datetime(room.synced_at, "H:i") if room.synced_at else "",
            "people": [
                {
                    "display_name": shown_name(person.display_name),
                    "role_name": role_label(person.role_name) if person.role_name else "",
                    "joined_at": person.joined_at.isoformat() if person.joined_at else None,
                    "joined": format_datetime(person.joined_at, "H:i"),
                }
                for person in room.people
            ],
        }
        for room in in_rooms_now(room_name)
    ]
