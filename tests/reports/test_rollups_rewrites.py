"""Person-year rows are rewritten only where a person's day changed: each rewrite leaves a dead row that
every distinct-people count then reads past (a rebuild once left 885,330 of them beside 138,411 rows)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection

from insights_app.models import PersonDayRollup, PersonYearRollup, RollupState, RoomSession
from insights_app.rollups import stale
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

pytestmark = [pytest.mark.usefixtures("rollups_on"), pytest.mark.django_db, pytest.mark.usefixtures("utc")]

COUNTER = "insights_test_rewrites"


@pytest.fixture
def utc(settings):
    """Days in UTC, as BASE."""
    settings.TIME_ZONE = "UTC"


@contextmanager
def counted_rewrites() -> Iterator[list[int]]:
    """Count the person-year rows the database updates (a row trigger), into the list it yields."""
    table = connection.ops.quote_name(PersonYearRollup._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {COUNTER} (n integer)")
        if connection.vendor == "postgresql":
            function = f"BEGIN INSERT INTO {COUNTER} VALUES (1); RETURN NEW; END"  # noqa: S608 (our name)
            cursor.execute(
                f"CREATE FUNCTION insights_test_count() RETURNS trigger LANGUAGE plpgsql AS $$ {function} $$"
            )
            body = "EXECUTE FUNCTION insights_test_count()"
        else:
            body = f"BEGIN INSERT INTO {COUNTER} VALUES (1); END"  # noqa: S608 (our name)
        cursor.execute(f"CREATE TRIGGER insights_test_rewrite AFTER UPDATE ON {table} FOR EACH ROW {body}")
    seen: list[int] = []
    yield seen
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {COUNTER}")  # noqa: S608 (our name)
        seen.append(cursor.fetchone()[0])
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP TRIGGER insights_test_rewrite ON {table}")
            cursor.execute("DROP FUNCTION insights_test_count()")
        else:
            cursor.execute("DROP TRIGGER insights_test_rewrite")
        cursor.execute(f"DROP TABLE {COUNTER}")


def _meet(room_session: str, start: dt.datetime, people: list[str]) -> None:
    """A session and one connection per person, through the sync's write paths."""
    sync_session(rooms(1)[0], room_session, start, 60)
    session = RoomSession.objects.get(room_session_id=room_session)
    for person in people:
        sync_connection(session, f"{room_session}-{person}", person, start + dt.timedelta(minutes=1), 600)


# Fixed days in one year, in UTC: the rows per year do not depend on the date the tests run.
BASE = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)


def _days() -> None:
    """Four days of meetings of the same few people (and one who comes once)."""
    for day in range(4):
        _meet(f"s{day}", BASE + dt.timedelta(days=day), ["ana", "bo", "cy"] + (["dee"] if day == 2 else []))


def _same_as_raw(days: int, people: int) -> None:
    """The figures of ``days`` days from BASE read from the rollups equal the raw answer, with ``people``."""
    filters = period_of(BASE.date(), BASE.date() + dt.timedelta(days=days - 1))
    assert figures(filters)["people"][0] == people
    assert_same(figures(filters), raw_figures(filters))


def _year_rows_match_the_cells() -> None:
    """Each person-year row says ``1`` on exactly the days of that person's day cells."""
    expected: dict[tuple[str, int], set[int]] = {}
    for identity, day in PersonDayRollup.objects.values_list("identity", "day"):
        expected.setdefault((identity, day.year), set()).add(day.timetuple().tm_yday)
    rows = {
        (r.identity, r.year): {i + 1 for i, c in enumerate(r.days) if c == "1"}
        for r in PersonYearRollup.objects.all()
    }
    assert rows == expected


def test_a_fix_of_days_whose_people_stayed_rewrites_no_person_year_row():
    _days()
    stale.fix()
    assert rollups_usable()
    days = sorted(set(PersonDayRollup.objects.values_list("day", flat=True)))
    with counted_rewrites() as unchanged:
        stale.persist(days)  # as a sync that fetched the same connections again
        assert stale.fix() == len(days)
    assert unchanged == [0]
    _year_rows_match_the_cells()
    with counted_rewrites() as changed:
        # ana comes on a fifth day (her row gains a day); eve is new (her row is written with the day).
        _meet("s4", BASE + dt.timedelta(days=4), ["ana", "eve"])
        stale.fix()
    assert changed == [1]
    _year_rows_match_the_cells()
    _same_as_raw(5, 5)


def test_a_rebuild_writes_each_person_year_row_once():
    _days()
    with counted_rewrites() as rewrites:
        assert rebuild(restart=True, batch_days=2)
    assert rewrites == [0]
    _year_rows_match_the_cells()
    assert PersonYearRollup.objects.count() == 4  # ana, bo, cy and dee, one year each
    _same_as_raw(4, 4)


def test_a_rebuild_stopped_after_its_days_writes_the_person_year_rows_when_resumed():
    _days()
    calls: list = []
    stopped = rebuild(
        restart=True,
        batch_days=2,
        progress=calls.append,
        should_stop=lambda: bool(calls) and calls[-1].done == calls[-1].total,
    )
    assert not stopped and calls[-1].done == calls[-1].total
    assert RollupState.objects.get().status == "rebuilding" and not rollups_usable()
    assert not PersonYearRollup.objects.exists()  # the days are done, their year rows not yet
    assert rebuild()
    assert rollups_usable()
    _year_rows_match_the_cells()
