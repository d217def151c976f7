"""Live presence from client and session events, ordered by ``createdAt`` so arrival order does not matter."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from ..models import LiveConnection, LiveRoom, WebhookEvent
from ..sync.clock import db_now
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
    """One room with people in it now."""

    room_name: str
    num_clients: int | None
    people: list[LiveConnection] = field(default_factory=list)

    @property
    def count(self) -> int:
        """Whereby's ``numClients`` when known, else the people we saw join."""
        return self.num_clients if self.num_clients is not None else len(self.people)


def ghosts(now: datetime, older_than: timedelta = TRUSTED_FOR) -> QuerySet[LiveConnection]:
    """Joins never closed, older than ``older_than``, in a room with no count since as long."""
    cutoff = now - older_than
    counted = LiveRoom.objects.filter(room_name=OuterRef("room_name"), counted_at__gte=cutoff)
    return LiveConnection.objects.filter(joined_at__lt=cutoff, left_at__isnull=True).exclude(Exists(counted))


def in_rooms_now(room_name: str | None = None, limit: int = 200) -> list[RoomNow]:
    """Who is in which room now (from webhooks only; no API call), busiest rooms first; ghosts left out."""
    present = LiveConnection.objects.filter(joined_at__isnull=False, left_at__isnull=True).exclude(
        pk__in=ghosts(db_now()).values("pk")
    )
    if room_name is not None:
        present = present.filter(room_name=room_name)
    rooms: dict[str, RoomNow] = {}
    for conn in present.order_by("room_name", "joined_at")[:limit]:
        rooms.setdefault(conn.room_name, RoomNow(conn.room_name, None)).people.append(conn)
    counts = dict(LiveRoom.objects.filter(room_name__in=list(rooms)).values_list("room_name", "num_clients"))
    for room in rooms.values():
        room.num_clients = counts.get(room.room_name)
    return sorted(rooms.values(), key=lambda r: (-len(r.people), r.room_name))


def presence_json(room_name: str | None = None) -> list[dict[str, Any]]:
    """``in_rooms_now`` as plain data for the pages' script (text only; the script builds no HTML)."""
    return [
        {
            "room_name": room.room_name,
            "num_clients": room.count,
            "people": [
                {
                    "display_name": person.display_name,
                    "role_name": person.role_name,
                    "joined_at": person.joined_at.isoformat() if person.joined_at else None,
                }
                for person in room.people
            ],
        }
        for room in in_rooms_now(room_name)
    ]
