"""Report numbers that agree with each other: the People search and the person page, quality bars and
their order, and the degraded rule as the page states it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from insights_app.models import Participant, Room, RoomSession

pytestmark = pytest.mark.django_db


def _connection(session: RoomSession, pid: str, **fields) -> Participant:
    return Participant.objects.create(
        room_session=session,
        room=session.room,
        participant_id=pid,
        joined_at=session.started_at,
        left_at=session.started_at + dt.timedelta(minutes=10),
        duration_seconds=600,
        **fields,
    )


def _session(room: Room, sid: str, days_ago: int) -> RoomSession:
    start = timezone.now() - dt.timedelta(days=days_ago)
    return RoomSession.objects.create(
        room=room, room_session_id=sid, started_at=start, ended_at=start + dt.timedelta(minutes=30)
    )


def test_the_name_search_keeps_the_connection_whose_name_was_hidden(client, viewer):
    room = Room.objects.create(room_name="/sales")
    for i, name in enumerate(["Aiko Nakamura", "Aiko Nakamura", None]):
        session = _session(room, f"s{i}", 2 + i)
        _connection(session, f"p{i}", external_id="cust-000108", identity="cust-000108", display_name=name)
    client.force_login(viewer)
    people = reverse("insights_app:people")
    by_name = client.get(people, {"period": "30d", "q": "Nakamura"}).context["tables"][0].rows
    by_id = client.get(people, {"period": "30d", "q": "cust-000108"}).context["tables"][0].rows
    page = client.get(reverse("insights_app:person", args=["cust-000108"]), {"period": "30d"}).context
    assert [(r["sessions"], r["connections"], r["minutes"]) for r in by_name] == [(3, 3, 30.0)]
    assert [(r["sessions"], r["connections"], r["minutes"]) for r in by_id] == [(3, 3, 30.0)]
    assert (page["totals"]["sessions"], page["totals"]["connections"], page["totals"]["minutes"]) == (
        3,
        3,
        30.0,
    )


def test_quality_bars_are_ordered_by_the_degraded_minutes_they_draw(client, viewer):
    room = Room.objects.create(room_name="/q")
    session = _session(room, "q1", 1)
    # Firefox: 5 degraded minutes of 10 (50 %); Chrome: 8 of 40 (20 %): the larger bar has the smaller share.
    _connection(session, "f", browser="Firefox", os="Linux", quality_degraded=True, degraded_seconds=300)
    for i in range(4):
        _connection(
            session, f"c{i}", browser="Chrome", os="Windows", quality_degraded=True, degraded_seconds=120
        )
    client.force_login(viewer)
    context = client.get(reverse("insights_app:quality"), {"period": "7d"}).context
    by_browser = next(t for t in context["tables"] if t.name == "by_browser")
    assert [r["key"] for r in by_browser.rows] == ["Chrome", "Firefox"]
    minutes = [r["degraded_minutes"] for r in by_browser.rows]
    assert minutes == sorted(minutes, reverse=True) == [8.0, 5.0]
    by_os = next(t for t in context["tables"] if t.name == "by_os")
    assert [r["key"] for r in by_os.rows] == ["Windows", "Linux"]


@pytest.mark.parametrize("settings_", [{}, {"DEGRADED_MIN_SECONDS": 25, "DEGRADED_PACKET_LOSS_PERCENT": 2.5}])
def test_the_quality_page_states_the_degraded_rule(client, viewer, settings, settings_):
    settings.WHEREBY_INSIGHTS = {**getattr(settings, "WHEREBY_INSIGHTS", {}), **settings_}
    _connection(_session(Room.objects.create(room_name="/r"), "r1", 1), "p", quality_degraded=False)
    client.force_login(viewer)
    html = client.get(reverse("insights_app:quality"), {"period": "7d"}).content.decode()
    seconds, percent = (
        settings_.get("DEGRADED_MIN_SECONDS", 10),
        settings_.get("DEGRADED_PACKET_LOSS_PERCENT", 3),
    )
    assert f"at or above {percent} % for at least {seconds} s" in html
