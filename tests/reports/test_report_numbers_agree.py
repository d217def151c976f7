"""Report numbers that agree with each other, as a reader sees them: a person's totals on the People list
whatever the search matched and on the person page its row links to, quality bars in the order of what
they draw, and the degraded rule as the sync applies it."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from insights_app.models import Participant, Room, RoomSession
from insights_app.rollups.rebuild import rebuild
from insights_app.sync.quality import participant_quality, summarise

pytestmark = pytest.mark.django_db


def _connection(session: RoomSession, pid: str, minutes: int = 10, after: int = 0, **fields) -> Participant:
    joined = session.started_at + dt.timedelta(minutes=after)
    return Participant.objects.create(
        room_session=session,
        room=session.room,
        participant_id=pid,
        joined_at=joined,
        left_at=joined + dt.timedelta(minutes=minutes),
        duration_seconds=60 * minutes,
        **fields,
    )


def _session(room: Room, sid: str, days_ago: int) -> RoomSession:
    start = timezone.now().replace(microsecond=0) - dt.timedelta(days=days_ago)
    return RoomSession.objects.create(
        room=room, room_session_id=sid, started_at=start, ended_at=start + dt.timedelta(minutes=90)
    )


def _cells(page: str, table: str) -> list[list[tuple[str, str]]]:
    """A rendered table's body rows: (text, link) per cell, as a reader sees and follows them."""
    block = page.split(f'id="table-{table}"', 1)[1].split("</tbody>", 1)[0]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", block.split("<tbody>", 1)[1], re.S):
        cells = []
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S):
            link = re.search(r'href="([^"]*)"', cell)
            text = html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            cells.append((text, html.unescape(link.group(1)) if link else ""))
        rows.append(cells)
    return rows


def _kpis(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-kpi="(\w+)">.*?class="insights-kpi-value">([^<]*)<', page))


def _figure(page: str, chart: str) -> dict:
    found = re.search(
        rf'<script id="insights-chart-{chart}" type="application/json">(.*?)</script>', page, re.S
    )
    assert found, chart
    return json.loads(found.group(1))


@pytest.fixture
def nakamura() -> None:
    """cust-000108 in 30 days: 3 sessions, 4 connections (one rejoin with the name hidden), 45 minutes;
    one more session 60 days ago; a second Nakamura; a person whose name does not match."""
    room = Room.objects.create(room_name="/sales")
    first, second, third, old = (_session(room, f"s{i}", days) for i, days in enumerate((2, 5, 9, 60)))
    person = {"external_id": "cust-000108", "identity": "cust-000108"}
    _connection(first, "a1", 10, display_name="Aiko Nakamura", **person)
    _connection(first, "a2", 5, after=20, display_name=None, **person)  # Whereby hid the name on rejoin
    _connection(second, "a3", 20, display_name="Aiko Nakamura", **person)
    _connection(third, "a4", 10, display_name="A. N.", **person)
    _connection(old, "a5", 30, display_name="Aiko Nakamura", **person)
    _connection(first, "k1", 7, display_name="Kenji Nakamura", external_id="cust-000300", identity="k")
    _connection(second, "b1", 50, display_name="Bo", external_id="cust-000200", identity="b")


@pytest.mark.usefixtures("nakamura")
@pytest.mark.parametrize("search", ["Nakamura", "nakamura", "cust-000108", "000108"])
def test_a_person_has_the_same_totals_whatever_the_search_matched(client, viewer, search):
    client.force_login(viewer)
    page = client.get(reverse("insights_app:people"), {"period": "30d", "q": search}).content.decode()
    rows = {cells[1][0]: [text for text, _link in cells[2:5]] for cells in _cells(page, "people")}
    # Sessions, connections, minutes: the hidden-name rejoin and the other name count for the person.
    assert rows["cust-000108"] == ["3", "4", "45"]
    assert "cust-000200" not in rows
    assert ("cust-000300" in rows) == ("Nakamura" in search or "nakamura" in search)


@pytest.mark.usefixtures("nakamura")
@pytest.mark.parametrize("period", [{"period": "90d"}, {"period": "30d", "room": "sales"}, {}])
def test_the_person_page_a_row_links_to_counts_what_the_row_counted(client, viewer, period):
    client.force_login(viewer)
    people = client.get(reverse("insights_app:people"), {**period, "q": "Nakamura"}).content.decode()
    row = next(cells for cells in _cells(people, "people") if cells[1][0] == "cust-000108")
    listed = [text for text, _link in row[2:5]]
    assert listed == (["4", "5", "75"] if period.get("period") == "90d" else ["3", "4", "45"])

    query = f"?{urlencode(period)}" if period else ""
    assert row[0][1] == reverse("insights_app:person", args=["cust-000108"]) + query
    person = client.get(row[0][1]).content.decode()  # the name's link, as a reader follows it
    kpis = _kpis(person)
    assert [kpis["sessions"], kpis["connections"], kpis["minutes"]] == listed
    assert len(_cells(person, "connections")) == int(listed[1])
    crumb = re.search(r'href="([^"]*)">People</a>', person)
    assert crumb and html.unescape(crumb.group(1)) == reverse("insights_app:people") + query


def _quality_room() -> None:
    room = Room.objects.create(room_name="/q")
    session = _session(room, "q1", 1)
    # Firefox: 5 degraded minutes of 10 (50 %); Chrome: 8 of 40 (20 %): the longer bar has the smaller
    # share. Linux and Windows the same; Safari/macOS: 1 minute of 1 (100 %).
    _connection(session, "f", browser="Firefox", os="Linux", quality_degraded=True, degraded_seconds=300)
    for i in range(4):
        _connection(
            session, f"c{i}", browser="Chrome", os="Windows", quality_degraded=True, degraded_seconds=120
        )
    _connection(session, "s", 1, browser="Safari", os="macOS", quality_degraded=True, degraded_seconds=60)


@pytest.mark.parametrize("rollups", [False, True])
def test_quality_bars_and_rows_come_in_the_order_of_the_degraded_minutes_they_draw(
    client, viewer, settings, rollups
):
    settings.WHEREBY_INSIGHTS = {**getattr(settings, "WHEREBY_INSIGHTS", {}), "ROLLUPS": rollups}
    _quality_room()
    Room.objects.create(room_name="/calm")  # a second room: the room bars come from its own query
    other = _session(Room.objects.get(room_name="/calm"), "q2", 1)
    # /calm: 4 degraded minutes of 5 (80 %), against /q's 14 of 51 (27 %).
    _connection(other, "o", 5, browser="Edge", os="Windows", quality_degraded=True, degraded_seconds=240)
    if rollups:
        rebuild()
    client.force_login(viewer)
    page = client.get(reverse("insights_app:quality"), {"period": "7d"}).content.decode()
    expected = {
        "by_browser": (["Chrome", "Firefox", "Edge", "Safari"], [8.0, 5.0, 4.0, 1.0]),
        "by_os": (["Windows", "Linux", "macOS"], [12.0, 5.0, 1.0]),
        "by_room": (["/q", "/calm"], [14.0, 4.0]),
    }
    for chart, (keys, minutes) in expected.items():
        figure = _figure(page, chart)["data"][0]
        # Plotly draws a horizontal bar chart's first category at the bottom: the data come reversed.
        drawn = list(zip(reversed(figure["y"]), reversed(figure["x"]), strict=True))
        assert drawn == list(zip(keys, minutes, strict=True))
        table = _cells(page, chart)
        assert [cells[0][0] for cells in table] == [key for key, _x in drawn]
    assert "The bars by room, browser and operating system draw degraded minutes, the most first" in page
    assert page.count("The most degraded minutes first, as the bars draw them.") == 3


@pytest.mark.parametrize(
    ("overrides", "stated"),
    [
        ({}, "at or above 3 % for at least 10 s in all"),
        (
            {"DEGRADED_MIN_SECONDS": 25, "DEGRADED_PACKET_LOSS_PERCENT": 2.5},
            "at or above 2.5 % for at least 25 s in all",
        ),
    ],
)
def test_the_quality_page_states_the_rule_the_sync_applies(client, viewer, settings, overrides, stated):
    settings.WHEREBY_INSIGHTS = {**getattr(settings, "WHEREBY_INSIGHTS", {}), **overrides}
    percent = overrides.get("DEGRADED_PACKET_LOSS_PERCENT", 3.0)
    seconds = overrides.get("DEGRADED_MIN_SECONDS", 10)
    # The rule as stated, checked against the sync's own summary: sent or received, added up, not in a row.
    step = 1.0
    below, at = percent - 0.5, percent
    half = int(seconds // 2)
    loss = [at] * half + [below] * 3 + [None] * (int(seconds) - half - 1) + [below]
    recv = [below] * half + [below] * 3 + [at] * (int(seconds) - half - 1) + [at]
    summary = summarise(
        {"packetLossSend": loss, "packetLossRecv": recv, "bitrateSend": [], "bitrateRecv": []}, step, percent
    )
    assert summary["degraded_seconds"] == seconds
    assert participant_quality([{**summary, "sample_count": 1}], seconds)["quality_degraded"] is True
    assert (
        participant_quality([{**summary, "degraded_seconds": seconds - 1, "sample_count": 1}], seconds)[
            "quality_degraded"
        ]
        is False
    )

    _connection(_session(Room.objects.create(room_name="/r"), "r1", 1), "p", quality_degraded=False)
    client.force_login(viewer)
    page = client.get(reverse("insights_app:quality"), {"period": "7d"}).content.decode()
    assert f"packet loss, sent or received, was {stated} (not necessarily in a row)" in " ".join(page.split())
    assert "3.0 %" not in page


@pytest.mark.parametrize(
    ("language", "stated"),
    [
        ("de", "insgesamt mindestens 25 s lang an oder über 2,5 %"),
        ("nb", "på eller over 2,5 % i minst 25 s til sammen"),
    ],
)
def test_the_rule_is_stated_in_the_readers_language(client, viewer, settings, language, stated):
    settings.WHEREBY_INSIGHTS = {
        **getattr(settings, "WHEREBY_INSIGHTS", {}),
        "DEGRADED_MIN_SECONDS": 25,
        "DEGRADED_PACKET_LOSS_PERCENT": 2.5,
    }
    _quality_room()
    client.force_login(viewer)
    with translation.override(language):
        page = client.get(reverse("insights_app:quality"), {"period": "7d"}).content.decode()
    assert stated in " ".join(page.split())


def test_a_search_costs_the_same_statements_however_many_people_it_matches(client, viewer):
    room = Room.objects.create(room_name="/many")
    session = _session(room, "m1", 1)
    client.force_login(viewer)
    counts = []
    for n in (2, 30):
        for i in range(Participant.objects.count() // 2, n):
            _connection(
                session, f"m{i}", display_name=f"Nakamura {i}", external_id=f"cust-{i:06}", identity=f"{i}"
            )
            _connection(session, f"h{i}", display_name=None, external_id=f"cust-{i:06}", identity=f"{i}")
        with CaptureQueriesContext(connection) as queries:
            page = client.get(
                reverse("insights_app:people"), {"period": "7d", "q": "Nakamura"}
            ).content.decode()
        assert len(_cells(page, "people")) == n
        assert {tuple(text for text, _link in cells[2:4]) for cells in _cells(page, "people")} == {("1", "2")}
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1]


@pytest.mark.parametrize(("language", "shown"), [("en", "at or above 2.5 % loss"), ("de", "2,5 %")])
def test_the_connection_page_writes_the_threshold_as_set(client, viewer, settings, language, shown):
    settings.WHEREBY_INSIGHTS = {
        **getattr(settings, "WHEREBY_INSIGHTS", {}),
        "DEGRADED_PACKET_LOSS_PERCENT": 2.5,
    }
    one = _connection(_session(Room.objects.create(room_name="/c"), "c1", 1), "p", quality_degraded=False)
    client.force_login(viewer)
    with translation.override(language):
        page = client.get(reverse("insights_app:participant_quality", args=[one.pk])).content.decode()
    assert shown in page and "2.50" not in page and "2,50" not in page
    settings.WHEREBY_INSIGHTS = {**settings.WHEREBY_INSIGHTS, "DEGRADED_PACKET_LOSS_PERCENT": 3.0}
    with translation.override(language):
        page = client.get(reverse("insights_app:participant_quality", args=[one.pk])).content.decode()
    assert (
        shown.replace("2.5", "3").replace("2,5", "3") in page and "3.0 %" not in page and "3,0 %" not in page
    )


def test_most_minutes_first_counts_the_minutes_of_a_connection_still_open(client, viewer):
    room = Room.objects.create(room_name="/open")
    session = _session(room, "o1", 0)
    session.started_at = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=61)
    session.ended_at = None
    session.save()
    _connection(session, "done", 10, external_id="cust-done", identity="done", display_name="Done")
    Participant.objects.create(
        room_session=session,
        room=room,
        participant_id="open",
        joined_at=session.started_at,
        external_id="cust-open",
        identity="open",
        display_name="Still here",
    )
    client.force_login(viewer)
    page = client.get(reverse("insights_app:people"), {"period": "7d"}).content.decode()
    shown = [(cells[1][0], int(cells[4][0])) for cells in _cells(page, "people")]
    # The list shows the open connection's minutes up to now: "most minutes" puts it first.
    assert [key for key, _minutes in shown] == ["cust-open", "cust-done"]
    assert shown[0][1] >= 60 and shown[1][1] == 10


@pytest.mark.parametrize(("days_ago", "period"), [(2, None), (60, "90d"), (400, "custom")])
def test_a_person_link_from_a_session_or_connection_leads_to_a_page_that_holds_it(
    client, viewer, days_ago, period
):
    """The person page's default is the last 30 days: a link from an older session carried no period,
    and the person page it led to did not count the session the reader came from."""
    room = Room.objects.create(room_name="/archive")
    session = _session(room, "old", days_ago)
    connection = _connection(session, "p1", 25, display_name="Aiko", external_id="cust-1", identity="cust-1")
    client.force_login(viewer)

    page = client.get(reverse("insights_app:session", args=[session.pk])).content.decode()
    (row,) = _cells(page, "connections")
    from_session = row[0][1]
    from_connection = re.search(
        r'href="([^"]*)">cust-1<',
        client.get(reverse("insights_app:participant_quality", args=[connection.pk])).content.decode(),
    )
    for link in (from_session, html.unescape(from_connection.group(1)) if from_connection else ""):
        assert link.startswith(reverse("insights_app:person", args=["cust-1"]))
        assert (f"period={period}" in link) if period else ("?" not in link)
        person = client.get(link).content.decode()
        assert [_kpis(person)["sessions"], _kpis(person)["connections"], _kpis(person)["minutes"]] == [
            "1",
            "1",
            "25",
        ], link
