"""Report views: permissions, empty state, CSV downloads, the external-id hook, plotly.js, query counts."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import logging

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from insights_app.models import Participant, Room, RoomSession
from insights_app.reports.assets import plotly_version
from insights_app.reports.csv_export import neutralise
from insights_app.rollups.marks import flush
from insights_app.rollups.rebuild import rebuild
from insights_app.rollups.stale import fix
from tests.helpers.reports_dataset import EVIL_ID, PERIOD, SLASH_ID, build_dataset

pytestmark = pytest.mark.django_db

RESOLVER_CALLS: list[list[str]] = []


def resolver(ids: list[str]) -> dict:
    """A host-site hook: labels for two ids, one with a link."""
    RESOLVER_CALLS.append(list(ids))
    return {"u-1": ("Alice <Admin>", "/admin/auth/user/1/change/"), "u-2": "Dan D.", "u-x": "not asked"}


def broken_resolver(ids: list[str]) -> dict:
    raise RuntimeError("user service down")


def evil_link_resolver(ids: list[str]) -> dict:
    return {"u-1": ("Alice", "javascript:alert(1)")}


def page_urls(data) -> list[str]:
    return [
        reverse("insights_app:overview"),
        reverse("insights_app:room", args=[data.rooms["alpha"].pk]),
        reverse("insights_app:session", args=[data.sessions["S1"].pk]),
        reverse("insights_app:participant_quality", args=[data.people["p2"].pk]),
        reverse("insights_app:quality"),
        reverse("insights_app:people"),
        reverse("insights_app:person", args=["u-1"]),
    ]


@pytest.fixture
def data():
    return build_dataset()


@pytest.fixture
def viewer(django_user_model, client):
    user = django_user_model.objects.create_user("viewer", password="pw-12345678", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_reports"))
    client.force_login(user)
    return client


def rows_of(response) -> list[list[str]]:
    assert response.streaming
    body = b"".join(response.streaming_content).decode()
    assert body.startswith("\ufeff")  # Excel reads UTF-8 only after a byte-order mark
    return list(csv.reader(io.StringIO(body[1:])))


def test_anonymous_is_sent_to_the_admin_login(client, data):
    for url in page_urls(data):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login") + "?next=")


def test_staff_without_the_permission_gets_403(client, django_user_model, data):
    client.force_login(django_user_model.objects.create_user("staff", password="x" * 12, is_staff=True))
    for url in page_urls(data):
        assert client.get(url).status_code == 403, url


def test_the_permission_alone_opens_every_page(viewer, data):
    for url in page_urls(data):
        response = viewer.get(url, PERIOD)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert 'id="site-name"' in html  # the admin header
        assert "cdn.plot.ly" not in html


def test_empty_database_shows_a_friendly_page(viewer):
    response = viewer.get(reverse("insights_app:overview"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "There is no Whereby data in this site yet." in html
    assert "main-svg" not in html and "insights-chart" not in html


def test_a_period_without_sessions_says_so_instead_of_empty_charts(viewer, data):
    response = viewer.get(
        reverse("insights_app:overview"), {"period": "custom", "start": "2020-01-01", "end": "2020-01-31"}
    )
    html = response.content.decode()
    assert "No sessions started in this period" in html
    assert 'class="insights-chart"' not in html


def test_bad_filter_values_are_a_form_error_keeping_the_values(viewer, data):
    response = viewer.get(
        reverse("insights_app:overview"), {"period": "custom", "start": "2026-13-45", "end": "x"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "“2026-13-45” is not a valid start date" in html
    assert 'value="2026-13-45"' in html and 'value="x"' in html
    assert 'class="insights-chart"' not in html


def test_a_person_csv_is_named_after_the_person_and_the_days_safely(viewer, data):
    url = reverse("insights_app:person", args=[SLASH_ID])  # "a/b?c#d e"
    response = viewer.get(url, {**PERIOD, "csv": "connections"})
    disposition = response["Content-Disposition"]
    assert disposition == 'attachment; filename="person-abcd-e-2026-03-01-to-2026-03-07-connections.csv"'


def test_neutralise_quotes_formula_triggers_only():
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(text) == "'" + text
    assert neutralise("plain") == "plain"
    assert neutralise(-3.5) == -3.5
    assert neutralise(None) == ""


def test_people_csv_is_streamed_and_neutralised(viewer, data):
    response = viewer.get(reverse("insights_app:people"), {**PERIOD, "csv": "people"})
    assert response["Content-Type"].startswith("text/csv")
    # The file's name says which days it holds.
    assert 'filename="people-2026-03-01-to-2026-03-07-people.csv"' in response["Content-Disposition"]
    rows = rows_of(response)
    assert rows[0][:3] == ["Name", "External id", "Sessions"]
    by_id = {r[1]: r for r in rows[1:]}
    assert "'" + EVIL_ID in by_id
    assert by_id["'" + EVIL_ID][0] == "'+danger<script>x</script>"  # the display name, neutralised
    assert SLASH_ID in by_id
    assert by_id["u-1"][2:5] == ["3", "4", "119.0"]
    assert rows[0][4] == "Minutes connected"


def test_session_csv_neutralises_display_names(viewer, data):
    response = viewer.get(
        reverse("insights_app:session", args=[data.sessions["S1"].pk]), {"csv": "connections"}
    )
    names = [r[0] for r in rows_of(response)[1:]]
    assert names == ["Alice", "'+danger<script>x</script>", "Alice"]


def test_csv_respects_the_filters(viewer, data):
    everything = rows_of(viewer.get(reverse("insights_app:overview"), {**PERIOD, "csv": "top_rooms"}))
    assert [r[0] for r in everything[1:]] == ["/beta", "/alpha"]
    narrowed = rows_of(
        viewer.get(reverse("insights_app:overview"), {**PERIOD, "room": "alp", "csv": "top_rooms"})
    )
    assert [r[0] for r in narrowed[1:]] == ["/alpha"]
    assert narrowed[1][1:3] == ["2", "180.0"]


def test_room_csv_has_every_session_not_just_the_page(viewer, data):
    room = data.rooms["gamma"]
    start = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    RoomSession.objects.bulk_create(
        RoomSession(
            room=room,
            room_session_id=f"bulk-{i}",
            started_at=start + dt.timedelta(minutes=i),
            ended_at=start + dt.timedelta(minutes=i + 1),
            duration_seconds=60,
        )
        for i in range(120)
    )
    rebuild()  # a bulk load is followed by a rollup rebuild
    page = viewer.get(reverse("insights_app:room", args=[room.pk]), PERIOD)
    assert len(page.context["tables"][0].rows) == 50
    assert "Page 1 of 3 (120 rows)" in page.content.decode()
    rows = rows_of(viewer.get(reverse("insights_app:room", args=[room.pk]), {**PERIOD, "csv": "sessions"}))
    assert len(rows) == 121


def test_sample_csv_lists_every_sample(viewer, data):
    response = viewer.get(
        reverse("insights_app:participant_quality", args=[data.people["p2"].pk]), {"csv": "samples"}
    )
    rows = rows_of(response)
    assert rows[0] == [
        "Time",
        "Packet loss sent (%)",
        "Packet loss received (%)",
        "Bitrate sent (bit/s)",
        "Bitrate received (bit/s)",
    ]
    assert len(rows) == 6
    assert rows[4][1:] == ["", "0.2", "500000", "900000"]
    assert rows[2][0].startswith("2026-03-02T10:05:02")


def test_unknown_csv_table_is_404(viewer, data):
    assert viewer.get(reverse("insights_app:overview"), {"csv": "nope"}).status_code == 404


def test_resolver_labels_people_in_one_batch_and_is_escaped(viewer, data, settings):
    settings.WHEREBY_INSIGHTS = {"EXTERNAL_ID_RESOLVER": "tests.reports.test_views.resolver"}
    RESOLVER_CALLS.clear()
    response = viewer.get(reverse("insights_app:people"), PERIOD)
    assert len(RESOLVER_CALLS) == 1
    assert sorted(RESOLVER_CALLS[0]) == sorted(["u-1", "u-2", EVIL_ID, SLASH_ID])
    html = response.content.decode()
    assert "Alice &lt;Admin&gt;" in html and "Alice <Admin>" not in html
    assert 'href="/admin/auth/user/1/change/"' in html
    assert "Dan D." in html
    labels = {r["external_id"]: r["label"] for r in response.context["tables"][0].rows}
    assert labels[EVIL_ID] == "+danger<script>x</script>"  # no label: the display name


def test_a_failing_resolver_shows_raw_ids_and_logs(viewer, data, settings, caplog):
    settings.WHEREBY_INSIGHTS = {"EXTERNAL_ID_RESOLVER": "tests.reports.test_views.broken_resolver"}
    with caplog.at_level(logging.WARNING, logger="insights_app"):
        response = viewer.get(reverse("insights_app:people"), PERIOD)
    assert response.status_code == 200
    assert "u-1" in response.content.decode()
    assert any("user service down" in r.getMessage() for r in caplog.records)


def test_resolver_links_other_than_web_links_are_dropped(viewer, data, settings):
    settings.WHEREBY_INSIGHTS = {"EXTERNAL_ID_RESOLVER": "tests.reports.test_views.evil_link_resolver"}
    html = viewer.get(reverse("insights_app:people"), PERIOD).content.decode()
    assert "javascript:" not in html


def test_plotly_js_is_the_cartesian_bundle_served_compressed(viewer, data):
    html = viewer.get(reverse("insights_app:overview"), PERIOD).content.decode()
    url = reverse("insights_app:plotly_js", args=[plotly_version()])
    assert f'src="{url}"' in html
    response = viewer.get(url, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Content-Encoding"] == "gzip" and "Accept-Encoding" in response["Vary"]
    assert "immutable" in response["Cache-Control"]
    sent = b"".join(response.streaming_content)
    body = gzip.decompress(sent)
    # The smallest bundle that draws our charts: bar, scatter and heatmap, not 4.8 MB of every kind.
    assert body.startswith(b"/**\n* plotly.js (cartesian - minified)")
    assert len(sent) < 600_000 and len(body) < 1_600_000
    for trace in (b'"bar"', b'"scatter"', b'"heatmap"'):
        assert trace in body
    again = viewer.get(url, HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
    # A client that does not take gzip gets the same script, plain.
    plain = viewer.get(url, HTTP_ACCEPT_ENCODING="identity")
    assert "Content-Encoding" not in plain and b"".join(plain.streaming_content) == body
    assert viewer.get(reverse("insights_app:plotly_js", args=["0.0.0"])).status_code == 404


def test_charts_are_json_script_not_inline_code(viewer, data):
    html = viewer.get(reverse("insights_app:overview"), PERIOD).content.decode()
    assert '<script id="insights-chart-usage" type="application/json">' in html


def _grow(data, copies: int) -> None:
    """More rooms, sessions and connections of the same shapes."""
    start = dt.datetime(2026, 3, 3, 8, tzinfo=dt.UTC)
    for n in range(copies):
        room = Room.objects.create(room_name=f"/grown-{n}")
        sessions = RoomSession.objects.bulk_create(
            RoomSession(
                room=room,
                room_session_id=f"g-{n}-{i}",
                room_name=room.room_name,
                started_at=start + dt.timedelta(hours=i),
                ended_at=start + dt.timedelta(hours=i, minutes=30),
                duration_seconds=1800,
                total_participant_minutes=60,
                total_unique_participants=2,
            )
            for i in range(10)
        )
        rebuild()  # a bulk load is followed by a rollup rebuild
        Participant.objects.bulk_create(
            Participant(
                room_session=s,
                room=room,
                participant_id=f"gp-{s.room_session_id}-{k}",
                external_id=f"ext-{n}-{k}",
                identity=f"ext-{n}-{k}",
                joined_at=s.started_at,
                left_at=s.ended_at,
                duration_seconds=1800,
                quality_degraded=bool(k % 2),
                degraded_seconds=60 * k,
                browser="Edge",
                os="Windows",
            )
            for s in sessions
            for k in range(3)
        )
        rebuild()  # a bulk load is followed by a rollup rebuild


def _count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, PERIOD).status_code == 200
    return len(ctx.captured_queries)


def test_query_count_is_bounded_and_does_not_grow_with_data(viewer, data, django_assert_max_num_queries):
    urls = page_urls(data)
    # The fixture's rows were written in this test's transaction, which never commits: their days are
    # marked stale and recomputed before the first page reads, as a sync run's end does.
    flush()
    fix()
    small = {url: _count(viewer, url) for url in urls}
    _grow(data, 8)
    for url in urls:
        with django_assert_max_num_queries(14):
            viewer.get(url, PERIOD)
    assert {url: _count(viewer, url) for url in urls} == small
