"""The room page's usage (KPIs, series, weekday x hour grid, sizes) from the room's hour cells."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from insights_app.models import RoomHourRollup, RoomSession
from insights_app.reports.queries import usage
from insights_app.rollups.marks import rollups_usable
from insights_app.rollups.rebuild import rebuild
from tests.helpers.rollup_data import assert_same, period_of, raw_figures, rooms, sync_session

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rollups_on")]


@override_settings(TIME_ZONE="Asia/Kolkata")
def test_the_room_page_reads_its_hour_cells_not_its_sessions():
    assert rebuild()
    first, second = rooms(2)
    start = dt.datetime(2026, 3, 2, 18, 20, tzinfo=dt.UTC)  # 23:50 in Kolkata: the local day is the 2nd
    for n in range(6):
        sync_session(
            second if n == 3 else first,
            f"h{n}",
            start + dt.timedelta(minutes=20 * n),
            30,
            total_participant_minutes=10.0 * n,
            total_unique_participants=n + 1,
        )
    assert rollups_usable()  # the writes' stale days recomputed, as the end of a sync run does
    filters = period_of(dt.date(2026, 3, 2), dt.date(2026, 3, 3))
    sessions = RoomSession.objects.filter(room_id=first.pk)
    with CaptureQueriesContext(connection) as read:
        digest = usage.usage_digest(filters, sessions, room_id=first.pk)
    assert not [q for q in read.captured_queries if RoomSession._meta.db_table in q["sql"]]
    # Five sessions in the first room: 23:50 on Monday the 2nd, then 00:10, 00:30, 01:10, 01:30 on the 3rd.
    assert digest.current["sessions"] == 5 and digest.current["participant_minutes"] == 10.0 + 20 + 40 + 50
    assert (digest.grid[0][23], digest.grid[1][0], digest.grid[1][1], sum(map(sum, digest.grid))) == (
        1,
        2,
        2,
        5,
    )
    assert RoomHourRollup.objects.filter(room=first).count() == 3
    assert_same(
        (digest.current, digest.previous, digest.series, digest.grid, digest.sizes),
        raw_figures(filters)["room"],
    )
