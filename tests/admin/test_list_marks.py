"""Admin lists: room names keep the part that tells them apart; an ended session is no error (issue 25)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from insights_app.models import Room, RoomSession

pytestmark = pytest.mark.django_db

LONG = "/standup-5f0c8a52-6c1e-4b3e-9d2a-0a4c1f7e9b21"


@pytest.fixture
def as_viewer(client, viewer, data):
    Room.objects.filter(pk=data.rooms[1].pk).update(room_name=LONG)
    RoomSession.objects.filter(room=data.rooms[1]).update(room_name=LONG)
    client.force_login(viewer)
    return client


@pytest.mark.parametrize("model", ["roomsession", "participant"])
def test_a_long_room_name_shows_its_start_and_end_and_is_whole_in_the_tooltip(as_viewer, model):
    html = as_viewer.get(reverse(f"admin:insights_app_{model}_changelist")).content.decode()
    shown = re.findall(r'class="insights-clip insights-clip-room"[^>]*>([^<]*)<', html)
    long_ones = [text for text in shown if text.startswith("/stand")]
    assert long_ones, shown
    assert all(text.endswith("9b21") and "…" in text and len(text) <= 14 for text in long_ones), long_ones
    assert f'title="{LONG}' in html


def test_ended_sessions_are_marked_in_words_and_no_red_cross(as_viewer):
    html = as_viewer.get(reverse("admin:insights_app_roomsession_changelist")).content.decode()
    assert "icon-no.svg" not in html and "icon-yes.svg" not in html
    assert html.count('class="insights-ended">ended<') == RoomSession.objects.exclude(ended_at=None).count()
    assert (
        html.count('class="insights-ongoing">ongoing<')
        == RoomSession.objects.filter(ended_at=None).count()
        == 1
    )


def test_a_run_page_shows_its_times_to_the_second_and_its_duration(client, viewer):
    from django.utils import timezone

    from insights_app.models import SyncRun

    start = (timezone.now() - dt.timedelta(minutes=5)).replace(second=0, microsecond=0)
    run = SyncRun.objects.create(kind="full", status="succeeded", trigger="admin", dedup_key="t")
    SyncRun.objects.filter(pk=run.pk).update(
        started_at=start + dt.timedelta(seconds=7), finished_at=start + dt.timedelta(seconds=49)
    )
    client.force_login(viewer)
    html = client.get(reverse("admin:insights_app_syncrun_change", args=[run.pk])).content.decode()
    local = timezone.localtime(start)
    assert local.strftime("%Y-%m-%d %H:%M:07") in html and local.strftime("%Y-%m-%d %H:%M:49") in html
    assert re.search(r"Duration:</label>\s*<div class=\"readonly\">42 s</div>", html)


@pytest.mark.parametrize("model", ["privacyaudit", "persontombstone"])
def test_the_mode_filter_offers_both_modes_before_any_erasure(admin_client, model):
    html = admin_client.get(reverse(f"admin:insights_app_{model}_changelist")).content.decode()
    assert '<a href="?mode=pseudonymise">' in html and '<a href="?mode=delete">' in html
    assert (
        admin_client.get(reverse(f"admin:insights_app_{model}_changelist"), {"mode": "delete"}).status_code
        == 200
    )


def test_detail_items_are_numbered_from_one_as_in_the_reports(client, viewer, data):
    participant = data.participants[0]
    client.force_login(viewer)
    html = client.get(
        reverse("admin:insights_app_participant_change", args=[participant.pk])
    ).content.decode()
    first = re.search(r'<table class="insights-details">.*?<tbody><tr>\s*<td>(\d+)</td>', html, re.S)
    assert first and first.group(1) == "1"
    report = client.get(reverse("insights_app:participant_quality", args=[participant.pk])).content.decode()
    assert re.search(r'<td class="kind-text">1</td>', report)
