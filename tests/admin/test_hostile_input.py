"""Hostile parameters and absurd stored dates: the admin lists answer, never 500 (run on SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from insights_app.models import Participant, Room, RoomSession
from tests.helpers.admin_data import synced_participant

pytestmark = pytest.mark.django_db

MAX_UTC = dt.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=dt.UTC)
MIN_UTC = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
LISTS = {"participant": "joined_at", "roomsession": "started_at", "room": "last_session_started_at"}


def changelist(model: str) -> str:
    return reverse(f"admin:insights_app_{model}_changelist")


@pytest.fixture
def as_viewer(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def absurd(data):
    """A room, a session and connections at the very ends of what a datetime holds, as the API sent them."""
    room = Room.objects.create(room_name="/far-away", last_session_started_at=MAX_UTC, created_at=MIN_UTC)
    sessions = [
        RoomSession.objects.create(
            room=room, room_session_id=f"absurd-{i}", room_name=room.room_name, started_at=when, ended_at=when
        )
        for i, when in enumerate((MAX_UTC, MIN_UTC))
    ]
    people = [
        synced_participant(
            room_session=session, participant_id=f"absurd-{i}", joined_at=session.started_at, left_at=MAX_UTC
        )
        for i, session in enumerate(sessions)
    ]
    return {"room": room, "sessions": sessions, "participants": people}


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/Los_Angeles", "UTC"])
def test_years_0001_and_9999_do_not_break_the_lists_or_pages(as_viewer, absurd, settings, zone):
    settings.TIME_ZONE = zone
    with timezone.override(zone):
        for model in LISTS:
            response = as_viewer.get(changelist(model))
            assert response.status_code == 200, (model, zone)
        html = as_viewer.get(changelist("participant")).content.decode()
        assert "9999-12-31 23:59 UTC" in html or zone == "UTC" or "America" in zone
        for obj in (absurd["room"], *absurd["sessions"], *absurd["participants"]):
            url = reverse(f"admin:insights_app_{obj._meta.model_name}_change", args=[obj.pk])
            assert as_viewer.get(url).status_code == 200, (url, zone)


def test_the_drill_down_offers_plausible_years_only(as_viewer, absurd):
    for model, field in LISTS.items():
        html = as_viewer.get(changelist(model)).content.decode()
        links = re.findall(r'<nav class="toplinks"[^>]*>(.*?)</nav>', html, re.S)[0]
        years = set(re.findall(rf"{field}__year=(\d+)", links))
        assert 1 <= links.count("<a ") <= 30, (model, links.count("<a "))
        assert years == {str(timezone.now().year)} or {str(timezone.now().year - 1)} <= years, years


def test_drilling_into_an_absurd_year_is_refused_not_a_500(as_viewer, absurd, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    with timezone.override("Asia/Tokyo"):
        for query in (
            "joined_at__year=9999",
            "joined_at__year=9999&joined_at__month=12",
            "joined_at__year=1",
        ):
            response = as_viewer.get(changelist("participant") + "?" + query)
            assert response.status_code == 302 and response["Location"].endswith("?e=1"), query


@pytest.mark.parametrize("model", list(LISTS))
@pytest.mark.parametrize(
    "suffix",
    [
        "month=13",
        "month=2&{f}__day=31",
        "month=0",
        "day=32",
        "year=2026&{f}__month=13",
        "year=2026&{f}__month=2&{f}__day=30",
        "year=abc",
        "month=99999999999999999999999",
    ],
)
def test_impossible_drill_down_dates_are_a_clean_redirect(as_viewer, data, model, suffix):
    field = LISTS[model]
    response = as_viewer.get(changelist(model) + f"?{field}__" + suffix.format(f=field))
    assert response.status_code == 302, response.status_code
    assert response["Location"].endswith("?e=1")


def test_a_valid_day_without_a_year_still_works(as_viewer, data):
    response = as_viewer.get(changelist("participant") + "?joined_at__month=2&joined_at__day=29")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("model", "param"),
    [
        ("participant", "role"),
        ("participant", "browser"),
        ("participant", "os"),
        ("participant", "q"),
        ("participant", "quality"),
        ("roomsession", "q"),
        ("room", "q"),
        ("syncrun", "status"),
        ("syncrun", "q"),
    ],
)
def test_a_nul_in_a_filter_is_refused_not_a_database_error(as_viewer, data, model, param):
    response = as_viewer.get(changelist(model), {param: "Chrome\x00"})
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")
    assert as_viewer.get(response["Location"]).status_code == 200
    assert Participant.objects.count() == 37  # nothing touched
