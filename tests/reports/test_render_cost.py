"""What keeps the report pages as fast as before issue 15: one statement for freshness and the empty
check, and the fast number and date formatting giving exactly Django's text."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import formats, timezone, translation

from insights_app.display.numbers import format_int, format_num
from insights_app.display.times import FAST_DATE_FORMATS, format_datetime
from insights_app.reports.freshness import freshness
from tests.helpers.reports_dataset import build_dataset
from tests.reports.test_inputs import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(django_user_model, client):
    client.force_login(make_user(django_user_model, "viewer", "view_reports"))
    return client


def test_freshness_says_whether_any_session_is_stored():
    assert freshness().any_data is False
    build_dataset()
    assert freshness().any_data is True


def test_a_report_page_reads_freshness_and_the_empty_check_in_one_statement(viewer):
    data = build_dataset()
    with CaptureQueriesContext(connection) as queries:
        response = viewer.get(reverse("insights_app:session", args=[data.sessions["S1"].pk]))
    assert response.status_code == 200
    assert 'id="insights-freshness"' in response.content.decode()
    sql = [q["sql"] for q in queries.captured_queries]
    assert sum("insights_app_syncrun" in s for s in sql) == 1
    # No separate "is there any session" query before the page's own.
    assert not [s for s in sql if s.startswith("SELECT 1 AS") and "insights_app_roomsession" in s]


def test_the_empty_state_comes_from_the_same_statement(viewer):
    with CaptureQueriesContext(connection) as queries:
        response = viewer.get(reverse("insights_app:overview"))
    assert "There is no Whereby data in this site yet." in response.content.decode()
    assert sum("insights_app_syncrun" in q["sql"] for q in queries.captured_queries) == 1


VALUES = [0, 1, -1, 999, 1000, -1000, 12345.67, -0.04, 0.05, 2.675, 1e14, 999999.95, 1e16, -1234567.891]


@pytest.mark.parametrize("language", ["en", "de", "fr", "hi"])  # hi groups 3, 2: Django's formatter
def test_fast_numbers_read_as_djangos(language):
    rng = random.Random(3)
    values = (
        VALUES
        + [rng.uniform(-1e7, 1e7) for _ in range(300)]
        + [rng.randrange(-(10**9), 10**9) for _ in range(100)]
    )
    with translation.override(language):
        for value in values:
            assert format_int(value) == formats.number_format(
                round(float(value)), use_l10n=True, force_grouping=True
            )
            for decimals in (0, 1, 2):
                expected = formats.number_format(
                    round(float(value), decimals), decimals, use_l10n=True, force_grouping=True
                )
                assert format_num(value, decimals) == expected, (value, decimals)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Oslo", "America/St_Johns"])
def test_fast_dates_read_as_djangos(zone):
    rng = random.Random(4)
    with timezone.override(zone):
        for _ in range(300):
            value = dt.datetime(1, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=rng.randrange(0, 315537897599))
            for fmt in FAST_DATE_FORMATS:
                try:
                    expected = formats.date_format(timezone.localtime(value), fmt)
                except (OverflowError, ValueError):
                    expected = formats.date_format(value.astimezone(dt.UTC), fmt) + " UTC"
                assert format_datetime(value, fmt) == expected


def test_top_rooms_are_the_rankings_first_rows_with_ties_broken_by_name():
    from django.test import RequestFactory

    from insights_app.models import Room, RoomSession
    from insights_app.reports.filters import ReportFilters
    from insights_app.reports.queries.usage import rooms_ranking, top_rooms

    build_dataset()
    start = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    # Twelve rooms tie on minutes and sessions around the tenth place; names decide, in reverse of ids.
    for i in range(12):
        room = Room.objects.create(room_name=f"/tie-{11 - i:02d}")
        RoomSession.objects.create(
            room=room,
            room_session_id=f"tie-{i}",
            started_at=start,
            ended_at=start + dt.timedelta(minutes=30),
            duration_seconds=1800,
            total_participant_minutes=60,
            total_unique_participants=2,
            total_recorder_minutes=0,
            total_streamer_minutes=0,
        )
    request = RequestFactory().get("/", {"period": "custom", "start": "2026-03-01", "end": "2026-03-07"})
    filters = ReportFilters.from_request(request, ("period", "start", "end"), timezone.now())
    sessions = RoomSession.objects.all()
    for count in (1, 5, 10, 30):
        expected = list(rooms_ranking(filters, sessions)[:count])
        assert top_rooms(filters, sessions, count) == expected, count
    names = [r["room__room_name"] for r in top_rooms(filters, sessions, 30)]
    assert names.index("/tie-00") < names.index("/tie-11")
