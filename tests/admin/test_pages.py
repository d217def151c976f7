"""The data pages: columns, filters, search, navigation, read-only, escaping, bounded queries."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from insights_app.models import Participant, Room, RoomSession, SyncRun
from tests.helpers.admin_data import HOSTILE_NAME, make_data

pytestmark = pytest.mark.django_db

# Every changelist and change page stays under this many queries whatever the data size
# (session, user, permissions, the page's own few queries); N+1 would blow past it.
MAX_QUERIES = 14

CHANGELISTS = ("room", "roomsession", "participant", "syncrun")


def changelist(model: str) -> str:
    return reverse(f"admin:insights_app_{model}_changelist")


def change(model: str, pk: int) -> str:
    return reverse(f"admin:insights_app_{model}_change", args=[pk])


def result_rows(html: str) -> int:
    """Rows in the changelist's result table."""
    body = html.split('id="result_list"', 1)[1].split("</table>", 1)[0]
    return body.count("<tr") - 1  # minus the header row


@pytest.fixture
def as_viewer(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def runs(viewer):
    return [
        SyncRun.objects.create(
            kind="incremental", status=status, trigger="admin", dedup_key=f"k{i}", requested_by=viewer
        )
        for i, status in enumerate(["succeeded", "failed", "running", "queued", "cancelled"])
    ]


@pytest.mark.parametrize("model", CHANGELISTS)
def test_changelist_renders_with_bounded_queries(as_viewer, data, runs, model, django_assert_max_num_queries):
    with django_assert_max_num_queries(MAX_QUERIES):
        response = as_viewer.get(changelist(model))
    assert response.status_code == 200
    assert result_rows(response.content.decode()) > 0


def test_query_count_does_not_grow_with_rows(as_viewer, django_assert_max_num_queries):
    """Ten times the rows, the same queries: no N+1 anywhere on the lists."""
    make_data(rooms=10, sessions_per_room=6, participants_per_session=5)
    for model in CHANGELISTS:
        with django_assert_max_num_queries(MAX_QUERIES):
            assert as_viewer.get(changelist(model)).status_code == 200


def test_change_pages_render_with_bounded_queries(as_viewer, data, runs, django_assert_max_num_queries):
    pages = [
        change("room", data.rooms[0].pk),
        change("roomsession", data.sessions[0].pk),
        change("participant", data.participants[0].pk),
        change("syncrun", runs[0].pk),
    ]
    for url in pages:
        with django_assert_max_num_queries(MAX_QUERIES):
            response = as_viewer.get(url)
        assert response.status_code == 200, url


def test_room_lists_columns_and_links_to_its_sessions(as_viewer, data):
    room = data.rooms[1]
    html = as_viewer.get(changelist("room")).content.decode()
    assert "/room-1" in html
    sessions_url = changelist("roomsession") + f"?room={room.pk}"
    assert f'href="{sessions_url}"' in html
    assert "247" in html  # participant minutes 246.8 shown rounded


def test_navigation_room_to_sessions_to_participants_and_back(as_viewer, data):
    room = data.rooms[1]
    room_page = as_viewer.get(change("room", room.pk)).content.decode()
    sessions_url = changelist("roomsession") + f"?room={room.pk}"
    assert f'href="{sessions_url}"' in room_page

    sessions_page = as_viewer.get(sessions_url).content.decode()
    assert result_rows(sessions_page) == 4
    assert "sess-1-0" in sessions_page and "sess-0-0" not in sessions_page
    assert "/room-1" in sessions_page  # the filter sidebar names the room

    session = RoomSession.objects.get(room_session_id="sess-1-2")
    participants_url = changelist("participant") + f"?session={session.pk}"
    session_page = as_viewer.get(change("roomsession", session.pk)).content.decode()
    assert f'href="{participants_url}"' in session_page
    assert f'href="{change("room", room.pk)}"' in session_page

    participants_page = as_viewer.get(participants_url).content.decode()
    assert result_rows(participants_page) == 3
    assert "Person 1-2-0" in participants_page and "Person 1-1-0" not in participants_page

    participant = Participant.objects.get(participant_id="part-1-2-0")
    participant_page = as_viewer.get(change("participant", participant.pk)).content.decode()
    assert f'href="{change("roomsession", session.pk)}"' in participant_page
    assert f'href="{change("room", room.pk)}"' in participant_page
    assert f'href="{participants_url}"' in participant_page


def test_participants_of_a_room(as_viewer, data):
    room = data.rooms[2]
    html = as_viewer.get(changelist("participant") + f"?room={room.pk}").content.decode()
    assert result_rows(html) == 12


def test_participant_page_shows_quality_summary_and_chart(as_viewer, data):
    poor = Participant.objects.get(participant_id="part-0-1-0")
    html = as_viewer.get(change("participant", poor.pk)).content.decode()
    assert '<strong class="insights-poor">degraded</strong>' in html  # the reports' words
    assert "max packet loss 9.0 %" in html
    # The reports' Plotly figure (one chart implementation), not a separate SVG.
    figure = json.loads(
        re.search(
            r'<script id="insights-chart-loss" type="application/json">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert [trace["name"] for trace in figure["data"]] == ["Loss sent", "Loss received"]
    assert len(figure["data"][0]["y"]) == 30
    assert figure["layout"]["shapes"][0]["y0"] == 3.0  # the degraded threshold
    assert 'data-figure="insights-chart-loss"' in html and "<polyline" not in html
    assert "/insights/assets/plotly-" in html
    fine = Participant.objects.get(participant_id="part-0-1-1")
    assert (
        '<span class="insights-ok">good</span>'
        in as_viewer.get(change("participant", fine.pk)).content.decode()
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("quality=degraded", 12),
        ("quality=good", 24),
        ("quality=poor", 12),  # the earlier words still work in old links
        ("quality=ok", 24),
        ("quality=unknown", 1),
        ("has_external_id=yes", 25),
        ("has_external_id=no", 12),
        ("role=host", 12),
        ("browser=Firefox", 12),
        ("os=Linux", 12),
        ("connected=yes", 4),
        ("joined_at_within=24h", 10),
        ("joined_at_within=older", 9),
    ],
)
def test_participant_filters(as_viewer, data, query, expected):
    response = as_viewer.get(changelist("participant") + "?" + query)
    assert response.status_code == 200
    assert result_rows(response.content.decode()) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [("ongoing=yes", 1), ("ongoing=no", 11), ("rated=yes", 6), ("started_at_within=7d", 3)],
)
def test_session_filters(as_viewer, data, query, expected):
    assert result_rows(as_viewer.get(changelist("roomsession") + "?" + query).content.decode()) == expected


def test_filter_choices_come_from_the_data(as_viewer, data):
    html = as_viewer.get(changelist("participant")).content.decode()
    for value in ("?browser=Chrome", "?browser=Safari", "?os=Mac+OS+X", "?role=member"):
        assert value in html


@pytest.mark.parametrize(
    ("model", "q", "expected"),
    [
        ("participant", "Person 2-3", 3),
        ("participant", "ext-1", 12),
        ("participant", "user-2", 12),
        ("roomsession", "room-2", 4),
        ("roomsession", "sess-2-3", 1),
        ("room", "room-1", 1),
    ],
)
def test_search(as_viewer, data, model, q, expected):
    assert result_rows(as_viewer.get(changelist(model), {"q": q}).content.decode()) == expected


def test_bad_related_filter_value_is_a_clean_redirect(as_viewer, data):
    response = as_viewer.get(changelist("roomsession") + "?room=not-a-number")
    assert response.status_code == 302
    assert "e=1" in response["Location"]


def test_hostile_display_name_is_escaped(as_viewer, data):
    for url in (changelist("participant"), change("participant", data.hostile.pk)):
        html = as_viewer.get(url).content.decode()
        assert HOSTILE_NAME not in html
        assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html


def test_data_pages_are_read_only(client, data, django_user_model):
    admin_user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-123456")
    client.force_login(admin_user)
    room = data.rooms[0]
    assert client.get(reverse("admin:insights_app_room_add")).status_code == 403
    response = client.post(change("room", room.pk), {"room_name": "/renamed"})
    assert response.status_code == 403
    room.refresh_from_db()
    assert room.room_name == "/room-0"
    page = client.get(change("room", room.pk)).content.decode()
    assert 'name="room_name"' not in page  # rendered as text, not as an input


@pytest.mark.parametrize("model", CHANGELISTS)
def test_nobody_deletes_synced_rows_not_even_a_superuser(client, data, runs, model, django_user_model):
    """No Delete button, no "Delete selected", and a forged delete is refused (privacy has its own flow)."""
    admin_user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-123456")
    client.force_login(admin_user)
    obj = {"room": data.rooms[0], "roomsession": data.sessions[0], "participant": data.participants[0]}.get(
        model, runs[0]
    )
    listing = client.get(changelist(model)).content.decode()
    assert "delete_selected" not in listing
    page = client.get(change(model, obj.pk)).content.decode()
    assert 'class="deletelink"' not in page
    delete_url = reverse(f"admin:insights_app_{model}_delete", args=[obj.pk])
    assert client.get(delete_url).status_code == 403
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    forged = client.post(
        changelist(model), {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"}
    )
    assert forged.status_code in (200, 302)
    assert type(obj).objects.filter(pk=obj.pk).exists()
    assert Room.objects.count() == 3 and Participant.objects.count() == 37


def test_sync_run_page_shows_counts_and_progress(as_viewer, viewer):
    run = SyncRun.objects.create(
        kind="full",
        status="running",
        trigger="admin",
        dedup_key="y",
        progress_done=3,
        progress_total=12,
        rooms_created=2,
        participants_updated=7,
    )
    html = as_viewer.get(change("syncrun", run.pk)).content.decode()
    assert "3 / 12 (25 %)" in html
    assert re.search(r"<th scope=\"row\">participants</th><td>0</td><td>7</td>", html)
    assert "Cancel this run" not in html  # viewer may not cancel


def test_facet_counts_are_never_computed(as_viewer, data, django_assert_max_num_queries):
    with django_assert_max_num_queries(MAX_QUERIES):
        html = as_viewer.get(changelist("participant") + "?_facets=True").content.decode()
    assert "Show counts" not in html
    assert "host (12)" not in html


def test_quality_says_degraded_and_good_like_the_reports(as_viewer, data):
    html = as_viewer.get(changelist("participant") + "?quality=degraded").content.decode()
    assert html.count('<strong class="insights-degraded">degraded</strong>') == 12
    good = as_viewer.get(changelist("participant") + "?quality=good").content.decode()
    assert good.count('<span class="insights-ok">good</span>') == 24
    sidebar = html.split('id="changelist-filter"', 1)[1]
    assert "?quality=degraded" in sidebar and ">Degraded<" in sidebar and ">Good<" in sidebar
    assert "Poor" not in sidebar and "Fine" not in sidebar


@pytest.fixture
def clock(request):
    """The app's clock pinned (before ``data`` is made around it) at the instant the test names."""
    with time_machine.travel(request.param, tick=True):
        yield request.param


@pytest.mark.parametrize(
    "clock",
    [
        pytest.param(datetime(2031, 7, 15, 12, tzinfo=UTC), id="data-within-one-year"),
        pytest.param(datetime(2032, 1, 10, 12, tzinfo=UTC), id="data-across-new-year"),
    ],
    indirect=True,
)
def test_date_drill_down_from_index_bounds(clock, as_viewer, data):
    """The drill-down offers exactly the years, then months, then days that hold rows, as a user clicks."""
    from django.utils import timezone

    first = timezone.localtime(Participant.objects.order_by("joined_at").first().joined_at)
    latest = timezone.localtime(Participant.objects.order_by("-joined_at").first().joined_at)
    html = as_viewer.get(changelist("participant")).content.decode()
    month_link = f"?joined_at__month={latest.month}&amp;joined_at__year={latest.year}"
    if first.year != latest.year:
        # Rows in two years: the index offers the years, and the latest leads to its months.
        assert month_link not in html
        for year in (first.year, latest.year):
            assert f'href="?joined_at__year={year}"' in html
        html = as_viewer.get(changelist("participant") + f"?joined_at__year={latest.year}").content.decode()
    assert month_link in html
    drilled = as_viewer.get(changelist("participant") + month_link.replace("&amp;", "&")).content.decode()
    expected = Participant.objects.filter(joined_at__year=latest.year, joined_at__month=latest.month).count()
    assert result_rows(drilled) == expected
    day_link = f"joined_at__day={latest.day}"
    assert day_link in drilled


def test_paginator_counts_exactly_up_to_its_limit(as_viewer, data, monkeypatch):
    """Past the limit PostgreSQL estimates (and the page says so); SQLite always counts exactly."""
    from django.db import connection

    from insights_app.admin import paginator

    monkeypatch.setattr(paginator, "EXACT_COUNT_LIMIT", 10)
    small = paginator.BoundedCountPaginator(Participant.objects.filter(quality_degraded=None), 5)
    assert small.count == 1 and not small.is_estimate
    big = paginator.BoundedCountPaginator(Participant.objects.order_by("pk"), 5)
    html = as_viewer.get(changelist("participant")).content.decode()
    if connection.vendor == "postgresql":
        assert big.count > 10 and big.is_estimate
        assert "the total is the database’s estimate" in html
    else:
        assert big.count == 37 and not big.is_estimate
        assert "estimate" not in html
