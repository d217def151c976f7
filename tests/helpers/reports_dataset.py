"""A small known dataset for the report tests (hand-computed expectations live in the tests)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from insights_app.models import Participant, ParticipantDetail, Room, RoomSession
from insights_app.sync.stages import person_identity

UTC = dt.UTC
PERIOD = {"period": "custom", "start": "2026-03-01", "end": "2026-03-07"}
EVIL_ID = "=SUM(A1)"
SLASH_ID = "a/b?c#d e"


def t(day: int, hour: int, minute: int = 0, month: int = 3) -> dt.datetime:
    """A UTC instant in 2026."""
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Dataset:
    """Handles on the rows the tests look at."""

    rooms: dict[str, Room]
    sessions: dict[str, RoomSession]
    people: dict[str, Participant]


def _session(
    room: Room, key: str, start: dt.datetime, end: dt.datetime | None, **totals: float
) -> RoomSession:
    return RoomSession.objects.create(
        room=room,
        room_session_id=f"sess-{key}",
        room_name=room.room_name,
        started_at=start,
        ended_at=end,
        duration_seconds=(end - start).total_seconds() if end else None,
        **totals,
    )


def _join(
    session: RoomSession, key: str, joined: dt.datetime, left: dt.datetime | None, **fields: object
) -> Participant:
    values = {"participant_id": f"part-{key}", **fields}
    # The sync denormalises the room and the person onto each connection; the reports rely on both.
    return Participant.objects.create(
        room_session=session,
        room_id=session.room_id,
        identity=person_identity(values),
        joined_at=joined,
        left_at=left,
        duration_seconds=(left - joined).total_seconds() if left else None,
        **values,
    )


def build_dataset() -> Dataset:
    """Seven sessions in three rooms around the week 2026-03-01..07, eleven connections."""
    alpha = Room.objects.create(room_name="/alpha")
    beta = Room.objects.create(room_name="/beta")
    gamma = Room.objects.create(room_name="/gamma")
    s = {
        "S1": _session(
            alpha,
            "S1",
            t(2, 10),
            t(2, 10, 30),
            total_participant_minutes=60,
            total_recorder_minutes=0,
            total_streamer_minutes=0,
            total_unique_participants=2,
            rating=4.0,
            total_ratings=2,
        ),
        # 02:30 UTC on the 4th is still the 3rd in New York.
        "S2": _session(
            alpha,
            "S2",
            t(4, 2, 30),
            t(4, 3, 30),
            total_participant_minutes=120,
            total_recorder_minutes=30,
            total_streamer_minutes=0,
            total_unique_participants=3,
            rating=5.0,
            total_ratings=1,
        ),
        # Crosses the start of the range: started the day before, so it belongs to the previous period.
        "S3": _session(
            beta,
            "S3",
            t(28, 23, month=2),
            t(1, 1),
            total_participant_minutes=240,
            total_unique_participants=2,
        ),
        # Crosses the end of the range: started on the last day, so it counts in full.
        "S4": _session(
            beta,
            "S4",
            t(7, 23),
            t(8, 2),
            total_participant_minutes=300,
            total_streamer_minutes=15,
            total_unique_participants=5,
        ),
        "S5": _session(beta, "S5", t(5, 12), None, total_participant_minutes=10, total_unique_participants=1),
        "S6": _session(
            alpha,
            "S6",
            t(25, 9, month=2),
            t(25, 9, 20, month=2),
            total_participant_minutes=20,
            total_unique_participants=1,
        ),
        # After the range in UTC, but on the 7th in New York.
        "S7": _session(
            gamma, "S7", t(8, 1), t(8, 1, 30), total_participant_minutes=50, total_unique_participants=1
        ),
    }
    chrome = {"browser": "Chrome", "os": "Windows"}
    p = {
        "p1": _join(
            s["S1"],
            "p1",
            t(2, 10),
            t(2, 10, 20),
            external_id="u-1",
            display_name="Alice",
            role_name="host",
            quality_degraded=False,
            degraded_seconds=0,
            max_packet_loss=1.0,
            avg_packet_loss=0.2,
            **chrome,
        ),
        "p2": _join(
            s["S1"],
            "p2",
            t(2, 10, 5),
            t(2, 10, 30),
            external_id=EVIL_ID,
            display_name="+danger<script>x</script>",
            role_name="visitor",
            quality_degraded=True,
            degraded_seconds=300,
            max_packet_loss=5.0,
            avg_packet_loss=2.1,
            **chrome,
        ),
        "p1b": _join(
            s["S1"],
            "p1b",
            t(2, 10, 21),
            t(2, 10, 30),
            external_id="u-1",
            display_name="Alice",
            role_name="host",
        ),
        "p3": _join(
            s["S2"],
            "p3",
            t(4, 2, 30),
            t(4, 3, 30),
            external_id="u-1",
            display_name="Alice",
            role_name="host",
            quality_degraded=False,
            degraded_seconds=0,
            browser="Firefox",
            os="Linux",
        ),
        "p4": _join(
            s["S2"], "p4", t(4, 2, 31), t(4, 3, 30), user_id="wb-9", display_name="Bob", role_name="visitor"
        ),
        "p5": _join(
            s["S2"],
            "p5",
            t(4, 2, 40),
            t(4, 3),
            external_id=SLASH_ID,
            display_name="Carol",
            role_name="visitor",
            quality_degraded=True,
            degraded_seconds=600,
            max_packet_loss=9.0,
            browser="Safari",
            os="macOS",
        ),
        "p6": _join(
            s["S4"],
            "p6",
            t(7, 23),
            t(8, 2),
            external_id="u-2",
            display_name="Dan",
            role_name="host",
            quality_degraded=False,
            degraded_seconds=0,
            **chrome,
        ),
        "p7": _join(s["S5"], "p7", t(5, 12), None, external_id="u-2", display_name="Dan", role_name="host"),
        "p8": _join(s["S3"], "p8", t(28, 23, month=2), t(1, 1), external_id="u-3", display_name="Eve"),
        # Joined inside the range although its session started before it.
        "p9": _join(s["S3"], "p9", t(1, 0, 30), t(1, 1), external_id="u-1", display_name="Alice"),
        "p10": _join(
            s["S6"], "p10", t(25, 9, month=2), t(25, 9, 20, month=2), external_id="u-3", display_name="Eve"
        ),
        "p11": _join(s["S7"], "p11", t(8, 1), t(8, 1, 30), external_id="u-4", display_name="Finn"),
    }
    ParticipantDetail.objects.create(
        participant=p["p2"],
        position=0,
        time_stamp=t(2, 10, 5),
        sample_rate_ms=2000,
        samples={
            "packetLossSend": [0.0, 1.5, 4.0, None, 5.0],
            "packetLossRecv": [0.0, 0.0, 3.5, 0.2, 0.0],
            "bitrateSend": [800000, 900000, None, 500000, 450000],
            "bitrateRecv": [1200000, 1100000, 1000000, 900000, 950000],
        },
        sample_count=5,
        avg_packet_loss_send=2.625,
        max_packet_loss_send=5.0,
        avg_packet_loss_recv=0.74,
        max_packet_loss_recv=3.5,
        avg_bitrate_send=662500,
        avg_bitrate_recv=1030000,
        degraded_seconds=6,
    )
    return Dataset({"alpha": alpha, "beta": beta, "gamma": gamma}, s, p)
