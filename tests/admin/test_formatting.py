"""Numbers, durations, sizes and times in the admin: one format, the reports' own."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from insights_app.display.times import local_datetime
from insights_app.models import ParticipantDetail, Room, RoomSession, SyncRun
from tests.helpers.admin_data import add_detail, synced_participant

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_viewer(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def busy_room():
    """A room with big lifetime totals and a session of 18 min 59 s with a connection of 317.6 s."""
    started = timezone.now() - dt.timedelta(days=1)
    room = Room.objects.create(
        room_name="/all-hands",
        last_session_started_at=started,
        total_sessions=11860.0,
        total_participant_minutes=222935.04,
        total_unique_participants=2918.0,
    )
    session = RoomSession.objects.create(
        room=room,
        room_session_id="big-1",
        room_name=room.room_name,
        started_at=started,
        ended_at=started + dt.timedelta(seconds=1139),
        duration_seconds=1139,
        total_participant_minutes=4321.5,
        total_unique_participants=1234.0,
    )
    person = synced_participant(
        room_session=session,
        participant_id="p-1",
        display_name="Ada",
        joined_at=started,
        duration_seconds=317.604,
    )
    return room, session, person


def cells(html: str, column: str) -> list[str]:
    """The text of one column's cells in the changelist."""
    return [
        re.sub(r"<[^>]+>", "", c)
        for c in re.findall(rf'<td class="field-{column}[^"]*">(.*?)</td>', html, re.S)
    ]


def test_lists_write_counts_with_separators_and_durations_in_words(as_viewer, busy_room):
    rooms = as_viewer.get(reverse("admin:insights_app_room_changelist")).content.decode()
    assert cells(rooms, "sessions_link") == ["11,860"]
    assert cells(rooms, "participant_minutes") == ["222,935"]
    assert cells(rooms, "unique_participants") == ["2,918"]
    sessions = as_viewer.get(reverse("admin:insights_app_roomsession_changelist")).content.decode()
    assert cells(sessions, "session_duration") == ["18 min 59 s"]
    assert cells(sessions, "participants_link") == ["1,234"]
    people = as_viewer.get(reverse("admin:insights_app_participant_changelist")).content.decode()
    assert cells(people, "connection_duration") == ["5 min 18 s"]


def test_lists_write_times_compactly_in_the_site_zone(as_viewer, busy_room, settings):
    _room, _session, person = busy_room
    settings.TIME_ZONE = "Asia/Tokyo"
    with timezone.override("Asia/Tokyo"):
        local = timezone.localtime(person.joined_at).strftime("%Y-%m-%d %H:%M")
        people = as_viewer.get(reverse("admin:insights_app_participant_changelist")).content.decode()
    assert cells(people, "joined") == [local]
    assert f'title="/all-hands · {local}"' in people  # the session's start, local too


def test_change_pages_write_figures_the_same_way(as_viewer, busy_room):
    room, session, person = busy_room
    page = as_viewer.get(reverse("admin:insights_app_roomsession_change", args=[session.pk])).content.decode()
    assert "18 min 59 s" in page and "1139" not in page
    assert "4,322" in page and "4321.5" not in page
    page = as_viewer.get(reverse("admin:insights_app_participant_change", args=[person.pk])).content.decode()
    assert "5 min 18 s" in page and "317.604" not in page
    page = as_viewer.get(reverse("admin:insights_app_room_change", args=[room.pk])).content.decode()
    assert "222,935" in page and "222935.04" not in page


def test_sync_run_pages_write_sizes_and_counts_readably(as_viewer):
    run = SyncRun.objects.create(
        kind="full",
        status="succeeded",
        trigger="schedule",
        dedup_key="z",
        api_bytes=1903463,
        api_requests=12345,
        participants_created=23456,
        progress_done=1500,
        progress_total=3000,
    )
    now = timezone.now()
    SyncRun.objects.filter(pk=run.pk).update(started_at=now - dt.timedelta(seconds=1139), finished_at=now)
    page = as_viewer.get(reverse("admin:insights_app_syncrun_change", args=[run.pk])).content.decode()
    assert "1.9 MB" in page and "1903463" not in page
    assert "12,345" in page
    assert "<td>23,456</td>" in page
    assert "1,500 / 3,000 (50 %)" in page
    listing = as_viewer.get(reverse("admin:insights_app_syncrun_changelist")).content.decode()
    assert cells(listing, "run_duration") == ["18 min 59 s"]
    assert cells(listing, "created_total") == ["23,456"]
    assert cells(listing, "requests") == ["12,345"]


@pytest.mark.parametrize(
    ("received", "shown"), [(0, "0 B"), (512, "512 B"), (1903463, "1.9 MB"), (2_500_000_000_000, "2.5 TB")]
)
def test_bytes_received_reads_with_a_unit_as_in_the_reports(as_viewer, received, shown):
    from insights_app.display.numbers import format_bytes

    run = SyncRun.objects.create(
        kind="full", status="succeeded", trigger="schedule", dedup_key="b", api_bytes=received
    )
    page = as_viewer.get(reverse("admin:insights_app_syncrun_change", args=[run.pk])).content.decode()
    row = re.search(r"<label>Bytes received:</label>\s*<div class=\"readonly\">([^<]*)</div>", page)
    assert row, "the run page has a Bytes received row"
    assert row.group(1) == shown == format_bytes(received)


def test_the_participant_page_writes_its_detail_rows_and_duration_like_the_reports(as_viewer, busy_room):
    _, _, person = busy_room
    started = dt.datetime(2026, 11, 30, 21, 17, tzinfo=dt.UTC)
    detail = add_detail(person, started, poor=False)
    ParticipantDetail.objects.filter(pk=detail.pk).update(avg_bitrate_send=2351117, avg_bitrate_recv=1915776)
    page = as_viewer.get(reverse("admin:insights_app_participant_change", args=[person.pk])).content.decode()
    row = re.search(r'<table class="insights-details">.*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    cells_ = [re.sub(r"\s+", " ", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells_[1] == local_datetime(started)  # "2026-11-30 21:17", not "Nov. 30, 2026, 9:17 p.m."
    assert cells_[5] == "2.4 Mbit/s / 1.9 Mbit/s" and "2351117" not in page
    # The table scrolls in its own box on a phone instead of being cut off.
    assert '<div class="insights-scroll-x"><table class="insights-details">' in page
    # The duration reads "5 min 18 s" under a label that no longer promises seconds.
    assert re.search(r"<label>Duration:</label>\s*<div class=\"readonly\">5 min 18 s</div>", page)
    assert "Duration (s)" not in page


def test_the_participant_page_writes_the_loss_threshold_as_set(as_viewer, busy_room, settings):
    _, _, person = busy_room
    add_detail(person, timezone.now() - dt.timedelta(hours=1), poor=True)
    person.max_packet_loss, person.avg_packet_loss, person.degraded_seconds = 9.0, 2.1, 20.0
    person.save()
    settings.WHEREBY_INSIGHTS = {
        **getattr(settings, "WHEREBY_INSIGHTS", {}),
        "DEGRADED_PACKET_LOSS_PERCENT": 3.0,
    }
    page = as_viewer.get(reverse("admin:insights_app_participant_change", args=[person.pk])).content.decode()
    assert "20 s at or above 3 %" in page and "3.0 %" not in page
