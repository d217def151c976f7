"""Property: after any sequence of syncs, revisions, ends, quality fetches, erasures and retention, in any
time zone, every rollup-backed figure equals the raw rows' answer and ``insights_rollup --check`` passes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insights_app.models import Participant, RoomSession
from insights_app.privacy.erasure import forget_person
from insights_app.privacy.retention import run_retention
from insights_app.rollups.marks import rollups_usable
from insights_app.rollups.rebuild import rebuild
from tests.helpers.rollup_data import (
    assert_same,
    fetch_quality,
    figures,
    period_of,
    raw_figures,
    rooms,
    sync_connection,
    sync_session,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rollups_on")]

# Half- and quarter-hour offsets, daylight saving on both hemispheres, a 30-minute DST shift, +12:45.
ZONES = (
    "UTC",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/St_Johns",
)
SESSIONS = [f"s{i}" for i in range(5)]
PEOPLE = ["ext-a", "ext-b", "ext-c", None]

minutes = st.integers(min_value=0, max_value=4 * 24 * 12).map(lambda n: n * 5)  # 4 days in 5-minute steps
session_op = st.tuples(
    st.just("session"),
    st.sampled_from(SESSIONS),
    st.integers(0, 2),
    minutes,
    st.one_of(st.none(), st.integers(1, 600)),  # None: ongoing
    st.integers(0, 400).map(lambda n: n / 4),  # participant minutes in quarters: sums stay exact
    st.one_of(st.none(), st.integers(1, 25)),
    st.one_of(st.none(), st.integers(1, 5)),
)
connection_op = st.tuples(
    st.just("connection"),
    st.integers(0, 7),
    st.integers(0, 50),  # the session: an index into those stored
    st.sampled_from(PEOPLE),
    st.integers(-30, 900),  # minutes after the session's start (before it: clocks disagree)
    st.one_of(st.none(), st.integers(1, 7200)),
    st.sampled_from(["host", "visitor", None]),
)
quality_op = st.tuples(
    st.just("quality"),
    st.integers(0, 50),  # the connection: an index into those stored
    st.one_of(st.none(), st.booleans()),
    st.integers(0, 600),
    st.sampled_from(["Chrome", "Firefox", ""]),
    st.sampled_from(["Windows", "macOS"]),
)
erase_op = st.tuples(
    st.just("erase"), st.sampled_from(PEOPLE[:3]), st.sampled_from(["pseudonymise", "delete"])
)
retention_op = st.tuples(st.just("retention"), st.integers(1, 4))
operations = st.lists(
    st.one_of(session_op, connection_op, connection_op, quality_op, erase_op, retention_op), max_size=25
)
first_sessions = st.lists(session_op, min_size=1, max_size=4)
first_connections = st.lists(connection_op, min_size=1, max_size=8)


def apply(op: tuple, base: dt.datetime) -> None:
    """Run one operation through the app's own write path."""
    kind = op[0]
    if kind == "session":
        _, sid, room, start, length, minutes_, size, rating = op
        sync_session(
            rooms()[room],
            sid,
            base + dt.timedelta(minutes=start),
            length,
            total_participant_minutes=minutes_,
            total_unique_participants=size,
            rating=rating,
            total_ratings=None if rating is None else 2,
        )
    elif kind == "connection":
        _, n, index, person, after, seconds, role = op
        sessions = list(RoomSession.objects.order_by("pk"))
        session = sessions[index % len(sessions)]
        joined = session.started_at + dt.timedelta(minutes=after)
        sync_connection(session, f"{session.room_session_id}-p{n}", person, joined, seconds, role_name=role)
    elif kind == "quality":
        _, index, degraded, seconds, browser, os = op
        pks = list(Participant.objects.order_by("pk").values_list("pk", flat=True))
        if pks:
            fetch_quality(pks[index % len(pks)], degraded, seconds, browser, os)
    elif kind == "erase":
        _, person, mode = op
        if Participant.objects.filter(external_id=person).exists():
            forget_person("external_id", person, mode=mode, trigger="test")
    else:
        with override_settings(WHEREBY_INSIGHTS={"PERSONAL_DATA_RETENTION_DAYS": op[1], "ROLLUPS": True}):
            run_retention(trigger="test")


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    zone=st.sampled_from(ZONES),
    ops=st.tuples(first_sessions, first_connections, operations).map(lambda t: [*t[0], *t[1], *t[2]]),
    span=st.integers(0, 5),
)
def test_every_rolled_figure_equals_the_raw_answer(zone: str, ops: list[tuple], span: int) -> None:
    Participant.objects.all().delete()
    RoomSession.objects.all().delete()
    with override_settings(TIME_ZONE=zone), timezone.override(zone):
        assert rebuild()  # the site's zone; nothing to rebuild yet
        # Five days ago at a local hour that is not whole in UTC for the odd zones.
        base = timezone.localtime(timezone.now() - dt.timedelta(days=5)).replace(
            hour=21, minute=40, second=0, microsecond=0
        )
        for op in ops:
            apply(op, base)
        assert rollups_usable()
        first = base.date() + dt.timedelta(days=span % 3)
        for filters in (
            period_of(first, first + dt.timedelta(days=span)),
            period_of(base.date(), base.date() + dt.timedelta(days=6)),
        ):
            assert_same(figures(filters), raw_figures(filters), f"{zone} {filters.period}")
        call_command("insights_rollup", "--check", "--all")  # exits 1 (SystemExit) on any difference
