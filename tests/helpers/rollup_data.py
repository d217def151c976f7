"""Write sessions and connections through the sync's own write paths, and read report figures raw or rolled."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from insights_app.models import Participant, RollupState, RollupStatus, Room, RoomSession
from insights_app.privacy.bulk import update_by_pk
from insights_app.reports.filters import ReportFilters
from insights_app.reports.periods import custom_period
from insights_app.reports.queries import quality, usage
from insights_app.reports.queries.people_ranked import people_listing
from insights_app.sync.context import page_transaction
from insights_app.sync.details import PARTICIPANT_QUALITY
from insights_app.sync.stages import PARTICIPANT_COMPARE, SESSION_COMPARE
from insights_app.sync.upsert import upsert_rows

# The instant the People lists count ongoing connections up to: one for the rolled and the raw reading.
NOW_FOR_PEOPLE = dt.datetime.now(dt.UTC)


def rooms(count: int = 3) -> list[Room]:
    """Rooms /r0 ... (created once per example)."""
    return [Room.objects.get_or_create(room_name=f"/r{i}")[0] for i in range(count)]


def sync_session(room: Room, sid: str, start: dt.datetime, length: float | None, **totals: Any) -> None:
    """Upsert one session as a sync page does (ongoing when ``length`` is None)."""
    row: dict[str, Any] = dict.fromkeys(SESSION_COMPARE)
    ended = None if length is None else start + dt.timedelta(minutes=length)
    row.update(
        room_session_id=sid,
        room_id=room.pk,
        room_name=room.room_name,
        started_at=start,
        ended_at=ended,
        duration_seconds=None if length is None else length * 60,
        raw={},
        **totals,
    )
    with page_transaction():
        upsert_rows(
            RoomSession, [row], key_fields=("room_session_id",), compare_fields=SESSION_COMPARE, now=start
        )


def sync_connection(
    session: RoomSession,
    pid: str,
    person: str | None,
    joined: dt.datetime,
    seconds: float | None,
    **more: Any,
) -> None:
    """Upsert one connection as the participants batch does."""
    row: dict[str, Any] = dict.fromkeys(PARTICIPANT_COMPARE)
    row.update(
        room_session_id=session.pk,
        room_id=session.room_id,
        participant_id=pid,
        external_id=person,
        identity=person or pid,
        display_name=f"Name of {person or pid}",
        joined_at=joined,
        left_at=None if seconds is None else joined + dt.timedelta(seconds=seconds),
        duration_seconds=seconds,
        raw={},
        **more,
    )
    with page_transaction():
        upsert_rows(
            Participant,
            [row],
            key_fields=("room_session_id", "participant_id"),
            compare_fields=PARTICIPANT_COMPARE,
            now=joined,
        )


def fetch_quality(pk: int, degraded: bool | None, seconds: float, browser: str, os: str) -> None:
    """Store a connection's quality summary as the detail fetch does."""
    row = dict.fromkeys(PARTICIPANT_QUALITY)
    row.update(pk=pk, quality_degraded=degraded, degraded_seconds=seconds, browser=browser, os=os, device="")
    with page_transaction():
        update_by_pk(Participant, [row], PARTICIPANT_QUALITY)


def figures(filters: ReportFilters) -> dict[str, Any]:
    """Every figure the overview and quality pages compute from the rollups when they can."""
    sessions, participants = RoomSession.objects.all(), Participant.objects.all()
    digest = usage.usage_digest(filters, sessions)
    room_id = Room.objects.order_by("pk").values_list("pk", flat=True).first() or 0  # as the room page
    room_digest = usage.usage_digest(filters, sessions.filter(room_id=room_id), room_id=room_id)
    q = quality.quality_digest(filters, participants)
    return {
        "current": digest.current,
        "previous": digest.previous,
        "series": digest.series,
        "grid": digest.grid,
        "sizes": digest.sizes,
        "people": usage.unique_people(filters, participants),
        "ranking": list(usage.rooms_ranking(filters, sessions)),
        "top": usage.top_rooms(filters, sessions, 2),
        "quality": (q.totals, q.series, q.browsers, q.systems),
        "by_room": list(quality.by_dimension(filters, participants, "room")),
        "room": (
            room_digest.current,
            room_digest.previous,
            room_digest.series,
            room_digest.grid,
            room_digest.sizes,
        ),
        "people_list": {sort: _people_list(filters, sort) for sort in ("minutes", "external_id")},
    }


def _people_list(filters: ReportFilters, sort: str) -> tuple[int, list[dict[str, Any]]]:
    """The People list's count and first page (ongoing connections counted up to a fixed now)."""
    listed = people_listing(filters, NOW_FOR_PEOPLE, sort)
    return listed.count(), list(listed[0:50])


def raw_figures(filters: ReportFilters) -> dict[str, Any]:
    """``figures`` with the rollups set aside: the raw rows' answer."""
    state = RollupState.objects.get()
    RollupState.objects.filter(pk=state.pk).update(status=RollupStatus.NEEDS_REBUILD)
    try:
        return figures(filters)
    finally:
        RollupState.objects.filter(pk=state.pk).update(status=state.status)


def assert_same(rolled: Any, raw: Any, where: str = "") -> None:
    """Equal, floats within a relative 1e-9 (sums added in another order)."""
    if isinstance(raw, dict):
        assert isinstance(rolled, dict) and rolled.keys() == raw.keys(), where
        for key in raw:
            assert_same(rolled[key], raw[key], f"{where}.{key}")
    elif isinstance(raw, list | tuple):
        assert len(rolled) == len(raw), f"{where}: {rolled} != {raw}"
        for i, (a, b) in enumerate(zip(rolled, raw, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(raw, float) or isinstance(rolled, float):
        assert rolled is not None and raw is not None, f"{where}: {rolled} != {raw}"
        assert math.isclose(rolled, raw, rel_tol=1e-9, abs_tol=1e-9), f"{where}: {rolled} != {raw}"
    else:
        assert rolled == raw, f"{where}: {rolled!r} != {raw!r}"


def period_of(first: dt.date, last: dt.date) -> ReportFilters:
    """Filters for the local days ``first`` to ``last``."""
    return ReportFilters(period=custom_period(first.isoformat(), last.isoformat()))
