"""Persisted stale-day marks (issue 24): a sync page marks its days instead of recomputing cells; a
fixer recomputes them without losing a concurrent writer's mark; a page reads raw rows while its
period holds more stale days than it may fix, and its numbers always equal the raw answer."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from insights_app.admin.dashboard import rollup_status
from insights_app.models import Participant, RollupStaleDay, RoomSession, UsageHourRollup
from insights_app.rollups.cells import ALL_ROLLUP_MODELS
from insights_app.rollups.marks import PAGE_FIX_DAYS
from insights_app.rollups.rebuild import rebuild
from insights_app.rollups.stale import fix, raw_note, reset_note, waiting
from tests.helpers import configure, run_sync
from tests.helpers.rollup_data import (
    assert_same,
    figures,
    period_of,
    raw_figures,
    rooms,
    sync_connection,
    sync_session,
)

pytestmark = pytest.mark.usefixtures("rollups_on")


def _cell_tables() -> list[str]:
    return [model._meta.db_table for model in ALL_ROLLUP_MODELS]


@pytest.mark.django_db
def test_a_sync_page_marks_its_day_and_recomputes_no_cell():
    start = timezone.now().replace(microsecond=0) - dt.timedelta(days=3)
    with CaptureQueriesContext(connection) as queries:
        sync_session(rooms()[0], "page-1", start, 30, total_participant_minutes=12.0)
    touched = [q["sql"] for q in queries if any(t in q["sql"] for t in _cell_tables())]
    assert touched == []  # no cell is recomputed inside the page's transaction
    day = timezone.localdate(start)
    assert list(RollupStaleDay.objects.values_list("day", "version")) == [(day, 1)]
    assert not UsageHourRollup.objects.exists()

    sync_session(rooms()[0], "page-2", start + dt.timedelta(minutes=5), 30, total_participant_minutes=3.0)
    assert RollupStaleDay.objects.get().version == 2  # one mark a day, bumped by each write

    filters = period_of(day, day)
    assert_same(figures(filters), raw_figures(filters))  # the page fixed the day, then read the cells
    assert not RollupStaleDay.objects.exists()
    assert UsageHourRollup.objects.filter(day=day).exists()


@pytest.mark.django_db
def test_a_full_sync_leaves_no_stale_day_and_cells_equal_to_the_raw_rows(settings, simulator_factory):
    server = simulator_factory(seed=3, rooms=3, sessions_per_room=8, participants_per_session=3, days=9)
    configure(settings, server, ROLLUPS=True)
    with CaptureQueriesContext(connection) as queries:
        assert run_sync("full").status == "succeeded"
    inserts = [
        q["sql"] for q in queries if q["sql"].startswith("INSERT INTO") and "usagehourrollup" in q["sql"]
    ]
    days = {timezone.localdate(s) for s in RoomSession.objects.values_list("started_at", flat=True)}
    # Each day recomputed once at the run's end (a batch of days per statement), not once per page.
    assert 0 < len(inserts) <= len(days)
    assert waiting() == 0
    today = timezone.localdate()
    filters = period_of(today - dt.timedelta(days=12), today)
    reset_note()
    assert_same(figures(filters), raw_figures(filters))
    assert raw_note() == 0


@pytest.mark.django_db
def test_a_page_whose_period_holds_many_stale_days_reads_raw_rows_and_says_so(client, viewer):
    today = timezone.localdate()
    first = today - dt.timedelta(days=PAGE_FIX_DAYS + 3)
    noon = timezone.make_aware(dt.datetime.combine(first, dt.time(12)))
    room = rooms()[0]
    for i in range(PAGE_FIX_DAYS + 2):
        start = noon + dt.timedelta(days=i)
        sync_session(room, f"many-{i}", start, 30, total_participant_minutes=10.0 + i)
        session = RoomSession.objects.get(room_session_id=f"many-{i}")
        sync_connection(session, f"many-{i}-a", f"ext-{i % 3}", start, 600)
    stale = waiting()
    assert stale == PAGE_FIX_DAYS + 2 and not UsageHourRollup.objects.exists()

    filters = period_of(first, today)
    reset_note()
    rolled = figures(filters)
    assert raw_note() == stale  # every figure read raw rows: the stale cells (none yet) would say 0
    assert_same(rolled, raw_figures(filters))
    assert rolled["current"]["sessions"] == PAGE_FIX_DAYS + 2
    assert waiting() == stale  # a page does not recompute more than PAGE_FIX_DAYS days

    client.force_login(viewer)
    url = reverse("insights_app:overview")
    html = client.get(url, {"period": "custom", "start": first.isoformat(), "end": today.isoformat()}).content
    assert f"{stale} days of this period are waiting for their rollups" in html.decode()

    assert fix() == stale
    reset_note()
    assert_same(figures(filters), raw_figures(filters))
    assert raw_note() == 0
    html = client.get(url, {"period": "custom", "start": first.isoformat(), "end": today.isoformat()}).content
    assert 'id="insights-rollups-raw"' not in html.decode()


def _write_and_hold(session_pk: int, joined: dt.datetime, written: threading.Event, hold: float) -> None:
    """Another worker: write a connection (its page flushes the mark), wait, then commit."""
    try:
        session = RoomSession.objects.get(pk=session_pk)
        with transaction.atomic():
            sync_connection(session, "late", "ext-late", joined, 60)
            written.set()  # the day's mark bumped, not committed
            time.sleep(hold)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_writers_mark_survives_a_fixer_that_read_it_before(capsys):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite lets one writer at a time: only PostgreSQL runs a writer and a fixer at once")
    rebuild(restart=True)
    start = timezone.now() - dt.timedelta(days=2)
    sync_session(rooms()[0], "race", start, 120, total_participant_minutes=60.0)
    session = RoomSession.objects.get(room_session_id="race")
    day = timezone.localdate(start)
    assert RollupStaleDay.objects.get(day=day).version == 1

    written = threading.Event()
    writer = threading.Thread(target=_write_and_hold, args=(session.pk, start, written, 3.0))
    writer.start()
    assert written.wait(10)
    # Reads version 1, recomputes without the writer's row, then waits on the writer's lock of the
    # mark; once the writer commits version 2 the version-checked delete removes nothing.
    assert fix() == 0
    writer.join(20)
    assert Participant.objects.count() == 1
    assert RollupStaleDay.objects.get(day=day).version == 2  # the writer's mark survived

    filters = period_of(day, day)
    assert_same(figures(filters), raw_figures(filters))  # the page recomputed the day again
    assert figures(filters)["people"][0] == 1
    assert not RollupStaleDay.objects.exists()


@pytest.mark.django_db
def test_the_dashboard_counts_the_stale_days():
    start = timezone.now().replace(microsecond=0) - dt.timedelta(days=5)
    sync_session(rooms()[0], "dash-1", start, 30)
    sync_session(rooms()[0], "dash-2", start + dt.timedelta(days=1), 30)
    status = rollup_status()
    assert "but for 2 days written since" in status["text"] and not status["behind"]
    fix()
    assert rollup_status()["text"].startswith("up to date (days in ")
    assert "written since" not in rollup_status()["text"]


class _Undo(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_the_marks_of_a_transaction_that_rolled_back_are_not_persisted_by_the_next():
    """A row saved in a transaction that rolled back marked its day on the connection; the next
    transaction's flush persisted that day too (a stale mark for rows that never existed; in the suite,
    one test's day leaked into the next test's marks)."""
    room = rooms()[0]
    gone = timezone.now().replace(microsecond=0) - dt.timedelta(days=40)
    try:
        with transaction.atomic():
            RoomSession.objects.create(room=room, room_session_id="gone", started_at=gone)
            raise _Undo
    except _Undo:
        pass
    kept = timezone.now().replace(microsecond=0) - dt.timedelta(days=2)
    sync_session(room, "kept", kept, 30)
    assert not RoomSession.objects.filter(room_session_id="gone").exists()
    assert list(RollupStaleDay.objects.values_list("day", flat=True)) == [timezone.localdate(kept)]
