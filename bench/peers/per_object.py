"""Peer: the per-object ``update_or_create`` loader most Django integrations write, into our models.

One ``requests`` session, one call at a time, one ``update_or_create`` per item (autocommit), the
same four endpoints as our sync. It imports our models but not our sync engine.

    DATABASE_URL=postgres://root@127.0.0.1:5432/wt12_perobject DJANGO_SETTINGS_MODULE=project.settings \
        .venv/bin/python bench/peers/per_object.py --base-url URL --api-key KEY --details all \
        --settled-before 2026-12-01T08:00:00Z
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django
import requests

from peers.common import report


def pages(http: requests.Session, url: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Every item of a cursor-paginated list endpoint, 100 at a time."""
    cursor = None
    while True:
        query = {**params, "limit": "100", **({"cursor": cursor} if cursor else {})}
        response = http.get(url, params=query, timeout=60)
        response.raise_for_status()
        body = response.json()
        yield from body["results"]
        cursor = body.get("cursor")
        if not cursor:
            return


def main() -> None:
    """Walk rooms -> sessions -> participants (-> details), saving each object as it comes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--details", choices=["none", "all"], default="none")
    parser.add_argument("--settled-before", required=True, help="details only for connections left by then")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    django.setup()
    from django.utils.dateparse import parse_datetime

    from insights_app.models import Participant, ParticipantDetail, Room, RoomSession

    settled_before = parse_datetime(args.settled_before)

    def when(value: Any) -> Any:
        return parse_datetime(value) if isinstance(value, str) else None

    def totals(item: dict[str, Any]) -> dict[str, Any]:
        return {
            "total_participant_minutes": item.get("totalParticipantMinutes"),
            "total_recorder_minutes": item.get("totalRecorderMinutes"),
            "total_streamer_minutes": item.get("totalStreamerMinutes"),
            "total_unique_participants": item.get("totalUniqueParticipants"),
            "total_unique_recorders": item.get("totalUniqueRecorders"),
            "total_unique_streamers": item.get("totalUniqueStreamers"),
            "rating": item.get("rating"),
            "total_ratings": item.get("totalRatings"),
        }

    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {args.api_key}"
    base = args.base_url.rstrip("/")
    started = time.perf_counter()
    for room_item in pages(http, base + "/insights/rooms", {}):
        room, _ = Room.objects.update_or_create(
            room_name=room_item["roomName"],
            defaults={
                "created_at": when(room_item.get("createdAt")),
                "end_at": when(room_item.get("endAt")),
                "first_session_started_at": when(room_item.get("firstSessionStartedAt")),
                "last_session_started_at": when(room_item.get("lastSessionStartedAt")),
                "total_sessions": room_item.get("totalSessions"),
                **totals(room_item),
                "raw": room_item,
            },
        )
        for session_item in pages(http, base + "/insights/room-sessions", {"roomName": room.room_name}):
            session, _ = RoomSession.objects.update_or_create(
                room_session_id=session_item["roomSessionId"],
                defaults={
                    "room": room,
                    "room_name": session_item.get("roomName") or "",
                    "started_at": when(session_item.get("startedAt")),
                    "ended_at": when(session_item.get("endedAt")),
                    **totals(session_item),
                    "raw": session_item,
                },
            )
            for item in pages(
                http, base + "/insights/participants", {"roomSessionId": session.room_session_id}
            ):
                participant, _ = Participant.objects.update_or_create(
                    room_session=session,
                    participant_id=item["participantId"],
                    defaults={
                        "room": room,
                        "device_id": item.get("deviceId"),
                        "user_id": item.get("userId"),
                        "role_name": item.get("roleName"),
                        "display_name": item.get("displayName"),
                        "joined_at": when(item.get("joinedAt")),
                        "left_at": when(item.get("leftAt")),
                        "external_id": item.get("externalId"),
                        "rating": item.get("rating"),
                        "tags": item.get("tags"),
                        "comment": item.get("comment"),
                        "raw": item,
                    },
                )
                left = participant.left_at
                if args.details != "all" or left is None or left > settled_before:
                    continue
                response = http.get(
                    base + "/insights/participant",
                    params={"roomSessionId": session.room_session_id, "participantId": item["participantId"]},
                    timeout=60,
                )
                response.raise_for_status()
                for position, detail in enumerate(response.json()):
                    ParticipantDetail.objects.update_or_create(
                        participant=participant,
                        position=position,
                        defaults={
                            "display_name": detail.get("displayName"),
                            "user_role": detail.get("userRole"),
                            "user_agent": detail.get("userAgent"),
                            "time_stamp": when(detail.get("timeStamp")),
                            "sample_rate_ms": detail.get("sampleRateMs"),
                            "samples": detail.get("samples") or {},
                            "events": detail.get("events"),
                            "raw": detail,
                        },
                    )
    seconds = time.perf_counter() - started
    report(
        seconds,
        {
            "rooms": Room.objects.count(),
            "sessions": RoomSession.objects.count(),
            "participants": Participant.objects.count(),
            "details": ParticipantDetail.objects.count(),
        },
    )


if __name__ == "__main__":
    main()
