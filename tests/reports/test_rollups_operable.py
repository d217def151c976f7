"""insights_rollup --check and --rebuild, a change of TIME_ZONE, and two workers writing one day at once."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from insights_app.models import (
    Participant,
    PersonDayRollup,
    PersonYearRollup,
    QualityDayRollup,
    RollupState,
    RoomSession,
)
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

pytestmark = pytest.mark.usefixtures("rollups_on")


def _week(base: dt.datetime) -> None:
    """A few sessions and connections over a week, written through the sync's paths."""
    room_list = rooms()
    for day in range(7):
        start = base + dt.timedelta(days=day, hours=day)
        sync_session(room_list[day % 3], f"w{day}", start, 45, total_participant_minutes=30.0 + day)
        session = RoomSession.objects.get(room_session_id=f"w{day}")
        for k in range(3):
            sync_connection(session, f"w{day}-{k}", f"ext-{k}", start + dt.timedelta(minutes=k), 600)
    for pk in Participant.objects.values_list("pk", flat=True)[:5]:
        fetch_quality(pk, True, 30, "Chrome", "macOS")


def _check(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    try:
        call_command("insights_rollup", "--check", *args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().out


@pytest.mark.django_db
def test_check_passes_then_finds_a_corrupted_cell(capsys):
    _week(timezone.now() - dt.timedelta(days=9))
    assert _check(capsys, "--all")[0] == 0
    cell = QualityDayRollup.objects.filter(degraded__gt=0).first()
    QualityDayRollup.objects.filter(pk=cell.pk).update(degraded=cell.degraded + 1)
    code, out = _check(capsys, "--all")
    assert code == 1
    assert f"QualityDayRollup ({cell.day!r}" in out and f"degraded is {cell.degraded + 1}" in out
    PersonDayRollup.objects.filter(pk=PersonDayRollup.objects.first().pk).delete()
    code, out = _check(capsys, "--all")
    assert code == 1 and "cell is 'missing'" in out
    call_command("insights_rollup", "--rebuild")
    assert _check(capsys, "--all")[0] == 0
    row = PersonYearRollup.objects.first()
    day = row.days.index("1")
    PersonYearRollup.objects.filter(pk=row.pk).update(days=row.days[:day] + "0" + row.days[day + 1 :])
    code, out = _check(capsys, "--all")
    assert (
        code == 1
        and f"PersonYearRollup ({dt.date(row.year, 1, 1) + dt.timedelta(days=day)!r}, {row.identity!r}): day is '0'"
        in out
    )


@pytest.mark.django_db
def test_check_compares_people_whose_key_is_ten_characters_long(capsys):
    """A key such as ``user-10000`` is as long as an ISO date; the check once read it as one and died."""
    start = timezone.now() - dt.timedelta(days=3)
    sync_session(rooms(1)[0], "ten", start, 30)
    session = RoomSession.objects.get(room_session_id="ten")
    for person in ("user-10000", "2026-01-01"):
        sync_connection(session, f"ten-{person}", person, start, 600)
    code, out = _check(capsys, "--all")
    assert code == 0, out
    PersonDayRollup.objects.filter(identity="user-10000").delete()
    code, out = _check(capsys, "--all")
    assert code == 1 and "'user-10000'" in out


@pytest.mark.django_db
@override_settings(TIME_ZONE="UTC")
def test_distinct_people_of_periods_across_a_new_year_are_counted_once_each():
    """A period and the one before it count their people in one scan of the person-year rows: a person
    met in both years is one person, in whichever period or periods they came."""
    assert rebuild()
    room = rooms(1)[0]
    meetings = {
        "a": ("2025-12-27", ["dec-only", "both"]),
        "b": ("2025-12-31", ["both", "eve"]),
        "c": ("2026-01-01", ["eve", "jan-only"]),
        "d": ("2026-01-03", ["jan-only"]),
    }
    for sid, (day, people) in meetings.items():
        start = dt.datetime.fromisoformat(f"{day}T12:00:00+00:00")
        sync_session(room, sid, start, 60)
        session = RoomSession.objects.get(room_session_id=sid)
        for person in people:
            sync_connection(session, f"{sid}-{person}", person, start, 600)
    assert rollups_usable()
    for first, last, people in (
        ("2025-12-31", "2026-01-03", (3, 2)),  # crosses the new year; the one before is December's
        ("2026-01-01", "2026-01-03", (2, 2)),  # January's; the one before is December's
        ("2026-01-02", "2026-01-03", (1, 3)),  # the one before crosses the new year
        ("2025-12-27", "2025-12-31", (3, 0)),  # one year
    ):
        filters = period_of(dt.date.fromisoformat(first), dt.date.fromisoformat(last))
        assert figures(filters)["people"] == people, (first, last)
        assert raw_figures(filters)["people"] == people, (first, last)


@pytest.mark.django_db
def test_a_new_time_zone_reads_raw_rows_until_the_rebuild(capsys):
    base = timezone.now() - dt.timedelta(days=9)
    _week(base)
    with override_settings(TIME_ZONE="Asia/Kathmandu"), timezone.override("Asia/Kathmandu"):
        filters = period_of(timezone.localdate(base), timezone.localdate(base) + dt.timedelta(days=4))
        assert not rollups_usable()  # the cells' days are UTC days: no page reads them here
        assert_same(figures(filters), raw_figures(filters))
        code, out = _check(capsys)
        assert code == 1 and "TIME_ZONE changed" in out
        call_command("insights_rollup", "--rebuild", "--batch-days", "2")
        assert "rebuilt through" in capsys.readouterr().out
        assert rollups_usable()
        assert_same(figures(filters), raw_figures(filters))
        assert _check(capsys, "--all")[0] == 0


@pytest.mark.django_db
def test_a_stopped_rebuild_resumes_where_it_stopped():
    _week(timezone.now() - dt.timedelta(days=9))
    calls = []
    assert not rebuild(restart=True, batch_days=2, progress=calls.append, should_stop=lambda: len(calls) >= 2)
    state = RollupState.objects.get()
    assert state.status == "rebuilding" and not rollups_usable()
    assert [p.done for p in calls] == [2, 4]
    resumed = []
    assert rebuild(batch_days=2, progress=resumed.append)
    assert resumed[0].done == 6  # from the day after the last one finished
    assert rollups_usable()


@pytest.mark.django_db
def test_a_rebuild_on_postgresql_leaves_the_planner_the_sizes_of_the_tables_it_filled():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's planner keeps no table sizes to refresh")
    _week(timezone.now() - dt.timedelta(days=9))
    assert rebuild(restart=True)
    for model in (PersonDayRollup, PersonYearRollup, QualityDayRollup):
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [model._meta.db_table])
            planned = cursor.fetchone()[0]
        assert planned == model.objects.count() > 0, model.__name__


def _worker(
    session_pk: int, tag: str, joined: dt.datetime, written: threading.Event | None, hold: float
) -> None:
    try:
        session = RoomSession.objects.get(pk=session_pk)
        with transaction.atomic():
            for k in range(3):
                sync_connection(session, f"{tag}-{k}", f"ext-{tag}-{k}", joined + dt.timedelta(minutes=k), 60)
            if written is not None:
                written.set()  # written and flushed, not committed
            time.sleep(hold)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_two_workers_writing_one_day_at_once_leave_the_cells_exact(capsys):
    if connection.vendor != "postgresql":
        pytest.skip(
            "SQLite lets one writer at a time: only PostgreSQL runs two workers' transactions at once"
        )
    rebuild(restart=True)
    start = timezone.now() - dt.timedelta(days=2)
    sync_session(rooms()[0], "both", start, 120, total_participant_minutes=60.0)
    session = RoomSession.objects.get(room_session_id="both")
    # Connections on the next day (a long session): no cell of that day exists yet to lock on.
    joined = start + dt.timedelta(days=1)
    written = threading.Event()
    first = threading.Thread(target=_worker, args=(session.pk, "one", joined, written, 1.0))
    first.start()
    assert written.wait(10)
    second = threading.Thread(target=_worker, args=(session.pk, "two", joined, None, 0.0))
    second.start()
    first.join(20)
    second.join(20)
    assert Participant.objects.count() == 6
    filters = period_of(timezone.localdate(start), timezone.localdate(joined))
    assert_same(figures(filters), raw_figures(filters))
    assert figures(filters)["people"][0] == 6
    assert _check(capsys, "--all")[0] == 0


@pytest.mark.integration  # the dashboard asks Redis about the workers
@pytest.mark.django_db
def test_the_dashboard_says_when_the_rollups_are_behind(client, syncer):
    client.force_login(syncer)
    url = reverse("admin:insights_app_syncrun_dashboard")

    def rollups_line() -> str:
        html = client.get(url).content.decode()
        return re.search(r'id="insights-rollups">(.*?)</td>', html).group(1)

    rebuild(restart=True)
    assert rollups_line() == "up to date (days in UTC)"
    with override_settings(TIME_ZONE="Asia/Kolkata"):
        assert "built for UTC, the site&#x27;s TIME_ZONE is Asia/Kolkata" in rollups_line()
    RollupState.objects.update(status="rebuilding", rebuilt_through=dt.date(2026, 1, 5))
    assert "rebuilding: 2026-01-05" in rollups_line()
