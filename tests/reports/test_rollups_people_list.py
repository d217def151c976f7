"""The People list ranked from the people-year rows: the raw order and figures, across a new year."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from insights_app.models import PeopleYearRollup, RoomSession
from insights_app.reports.queries.people_ranked import RankedPeople, people_listing
from insights_app.rollups.marks import rollups_usable
from insights_app.rollups.rebuild import rebuild
from tests.helpers.rollup_data import (
    assert_same,
    figures,
    period_of,
    raw_figures,
    rooms,
    sync_connection,
    sync_session,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rollups_on")]
ZONE = "Asia/Kathmandu"  # +05:45: a local day is not a UTC day
NOW = dt.datetime(2026, 1, 3, 6, 0, tzinfo=dt.UTC)


def _meet(sid: str, local_start: str, people: dict[str, float | None]) -> None:
    """A session at a local time with a connection per person (None: still connected)."""
    start = dt.datetime.fromisoformat(local_start).replace(
        tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=45))
    )
    sync_session(rooms(1)[0], sid, start, None if None in people.values() else 240)
    session = RoomSession.objects.get(room_session_id=sid)
    for n, (person, seconds) in enumerate(people.items()):
        sync_connection(session, f"{sid}-{n}", person, start + dt.timedelta(minutes=n), seconds)


@override_settings(TIME_ZONE=ZONE)
def test_the_people_list_across_a_new_year_is_the_raw_order_with_the_raw_figures():
    assert rebuild()
    _meet("a", "2025-12-30T23:50", {"dec": 7200.0, "both": 600.0})
    _meet("b", "2025-12-31T23:55", {"both": 1800.0, "late": 60.0})  # joined before midnight, in 2025
    _meet("c", "2026-01-01T00:10", {"both": 900.0, "jan": 3000.0})  # in 2026, by ten minutes
    _meet("d", "2026-01-02T09:00", {"jan": None, "": 5000.0})  # ongoing; no external id: not listed
    assert rollups_usable()
    filters = period_of(dt.date(2025, 12, 31), dt.date(2026, 1, 2))
    minutes = people_listing(filters, NOW, "minutes")
    by_id = people_listing(filters, NOW, "external_id")
    if connection.vendor == "postgresql":
        assert isinstance(minutes, RankedPeople) and isinstance(by_id, RankedPeople)
    # "jan": 3000 s finished plus the ongoing one since 2026-01-02 09:00 +05:45 (03:15 UTC) up to NOW.
    ongoing = (NOW - dt.datetime(2026, 1, 2, 3, 15, tzinfo=dt.UTC)).total_seconds()
    rows = list(minutes[0:50])
    assert [r["external_id"] for r in rows] == ["jan", "both", "late"]  # "dec" came only on 30 December
    assert rows[0]["seconds"] == 3000.0 and rows[0]["open_elapsed"].total_seconds() == ongoing
    assert (rows[1]["sessions"], rows[1]["connections"], rows[1]["seconds"]) == (2, 2, 2700.0)
    assert minutes.count() == by_id.count() == 3
    assert [r["external_id"] for r in by_id[1:3]] == ["jan", "late"]
    assert [r["external_id"] for r in minutes.iterator()] == ["jan", "both", "late"]  # the CSV's rows

    assert_same(figures(filters)["people_list"], raw_figures(filters)["people_list"])


def test_check_finds_a_people_year_row_that_says_otherwise(capsys):
    assert rebuild()
    _meet("a", "2026-01-02T10:00", {"ext-1": 600.0, "ext-2": 1200.0})
    call_command("insights_rollup", "--check", "--all")
    row = PeopleYearRollup.objects.get(external_id="ext-2")
    PeopleYearRollup.objects.filter(pk=row.pk).update(seconds=[1201.0])
    with pytest.raises(SystemExit) as stopped:
        call_command("insights_rollup", "--check", "--all")
    out = capsys.readouterr().out
    digest = "external id #" + hashlib.sha256(b"ext-2").hexdigest()[:12]
    assert stopped.value.code == 1 and f"PeopleYearRollup (2026, '{digest}'): seconds is [1201.0]" in out
    assert "ext-2" not in out  # the host site's key for a person stays out of the logs
    PeopleYearRollup.objects.filter(pk=row.pk).delete()
    with pytest.raises(SystemExit):
        call_command("insights_rollup", "--check", "--all")
    assert f"PeopleYearRollup (2026, '{digest}'): row is 'missing'" in capsys.readouterr().out
    call_command("insights_rollup", "--rebuild")
    call_command("insights_rollup", "--check", "--all")
    assert PeopleYearRollup.objects.get(external_id="ext-2").seconds == [1200.0]
