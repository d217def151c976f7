"""Compare the local copy with the simulator's ground truth, row by row and field by field."""

from __future__ import annotations

from datetime import datetime

from insights_app.models import Participant, ParticipantDetail, Room, RoomSession
from insights_app.privacy.pseudonyms import pseudonym


def _when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def _percent(series: list, fraction: bool) -> list:
    return [None if v is None else (v * 100.0 if fraction else float(v)) for v in series]


def expected_samples(samples: dict) -> dict:
    """Loss in percent: the simulator writes fraction items with every value within 0-1 and one above 0."""
    loss = [v for key in ("packetLossSend", "packetLossRecv") for v in samples.get(key, []) if v is not None]
    fraction = bool(loss) and max(loss) <= 1.0 and any(v > 0 for v in loss)
    return {
        "packetLossSend": _percent(samples.get("packetLossSend", []), fraction),
        "packetLossRecv": _percent(samples.get("packetLossRecv", []), fraction),
        "bitrateSend": [None if v is None else float(v) for v in samples.get("bitrateSend", [])],
        "bitrateRecv": [None if v is None else float(v) for v in samples.get("bitrateRecv", [])],
    }


def assert_db_equals_org(org, *, details: str = "all") -> dict[str, int]:
    """Every room, session, participant (and detail, for ended connections) equals the API's; returns counts."""
    rooms = {r.room_name: r for r in Room.objects.all()}
    api_rooms = org.room_items()
    assert set(rooms) == {r["roomName"] for r in api_rooms}
    sessions = {s.room_session_id: s for s in RoomSession.objects.select_related("room")}
    participants = {
        (p.room_session.room_session_id, p.participant_id): p
        for p in Participant.objects.select_related("room_session")
    }
    detail_rows: dict[int, list[ParticipantDetail]] = {}
    for d in ParticipantDetail.objects.order_by("participant_id", "position"):
        detail_rows.setdefault(d.participant_id, []).append(d)

    counts = {"rooms": 0, "sessions": 0, "participants": 0, "details": 0}
    api_session_ids = set()
    api_participant_keys = set()
    for item in api_rooms:
        room = rooms[item["roomName"]]
        assert room.raw == item
        assert room.created_at == _when(item["createdAt"])
        assert room.last_session_started_at == _when(item["lastSessionStartedAt"])
        assert room.total_participant_minutes == item["totalParticipantMinutes"]
        assert room.total_sessions == item["totalSessions"]
        assert room.rating == item.get("rating")
        assert room.missing_since is None
        counts["rooms"] += 1
        for s_item in org.session_items(item["roomName"]):
            api_session_ids.add(s_item["roomSessionId"])
            session = sessions[s_item["roomSessionId"]]
            assert session.room_id == room.pk
            assert session.raw == s_item
            assert session.started_at == _when(s_item["startedAt"])
            assert session.ended_at == _when(s_item["endedAt"])
            assert session.total_unique_participants == s_item["totalUniqueParticipants"]
            counts["sessions"] += 1
            for p_item in org.participant_items(s_item["roomSessionId"]):
                key = (s_item["roomSessionId"], p_item["participantId"])
                api_participant_keys.add(key)
                participant = participants[key]
                assert participant.raw == p_item
                assert participant.display_name == p_item["displayName"]
                assert participant.external_id == p_item["externalId"]
                assert participant.role_name == p_item["roleName"]
                assert participant.joined_at == _when(p_item["joinedAt"])
                assert participant.left_at == _when(p_item["leftAt"])
                assert participant.room_id == room.pk
                assert participant.identity == pseudonym(
                    p_item["externalId"] or p_item["userId"] or p_item["deviceId"] or p_item["participantId"]
                )
                counts["participants"] += 1
                rows = detail_rows.get(participant.pk, [])
                if details == "all" and p_item["leftAt"] is not None:
                    api_details = org.detail_items(s_item["roomSessionId"], p_item["participantId"])
                    assert len(rows) == len(api_details), key
                    for row, d_item in zip(rows, api_details, strict=True):
                        assert row.raw == {k: v for k, v in d_item.items() if k != "samples"}
                        assert row.user_agent == d_item["userAgent"]
                        assert row.time_stamp == _when(d_item["timeStamp"])
                        assert row.samples == expected_samples(d_item["samples"])
                        counts["details"] += 1
                    assert participant.details_synced_at is not None
                elif details == "none":
                    assert rows == []
    assert set(sessions) == api_session_ids
    assert set(participants) == api_participant_keys
    return counts
