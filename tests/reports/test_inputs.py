"""Report inputs, formats and permissions as a user meets them (issues 13 and 15, report side)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from urllib.parse import unquote

import pytest
from django.contrib.auth.models import Permission
from django.urls import resolve, reverse

from insights_app.models import Participant, RoomSession, SyncRun
from insights_app.reports.csv_export import neutralise
from insights_app.rollups.rebuild import rebuild
from tests.helpers.reports_dataset import PERIOD, build_dataset

pytestmark = pytest.mark.django_db

BAD_PERIODS = {
    "reversed": ({"period": "custom", "start": "2026-11-25", "end": "2026-11-05"}, "is after the end date"),
    "garbage": ({"period": "custom", "start": "garbage", "end": "2026-11-05"}, "“garbage” is not a valid"),
    "centuries": ({"period": "custom", "start": "1900-01-01", "end": "2100-01-01"}, "must be between"),
    "year 9999": ({"period": "custom", "start": "9999-12-30", "end": "9999-12-31"}, "must be between"),
    "year 1": ({"period": "custom", "start": "0001-01-01", "end": "0001-01-02"}, "must be between"),
    "ten years": ({"period": "custom", "start": "2010-01-01", "end": "2026-01-01"}, "at most 3,660 days"),
    "unknown preset": ({"period": "fortnight"}, "Unknown period “fortnight”"),
    "half a range": ({"period": "custom", "start": "2026-03-01"}, "needs both a start and an end"),
}


@pytest.fixture
def data():
    return build_dataset()


def make_user(django_user_model, name: str, *codenames: str, staff: bool = True):
    user = django_user_model.objects.create_user(name, password="pw-12345678", is_staff=staff)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def viewer(django_user_model, client):
    client.force_login(make_user(django_user_model, "viewer", "view_reports"))
    return client


def filtered_pages(data) -> list[str]:
    """The report pages that read the period filter."""
    return [
        reverse("insights_app:overview"),
        reverse("insights_app:room", args=[data.rooms["alpha"].pk]),
        reverse("insights_app:quality"),
        reverse("insights_app:people"),
        reverse("insights_app:person", args=["u-1"]),
    ]


def all_pages(data) -> list[str]:
    return [
        *filtered_pages(data),
        reverse("insights_app:session", args=[data.sessions["S1"].pk]),
        reverse("insights_app:participant_quality", args=[data.people["p2"].pk]),
    ]


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def figure(response, chart_id: str) -> dict:
    html = response.content.decode()
    match = re.search(
        rf'<script id="insights-chart-{chart_id}" type="application/json">(.*?)</script>', html, re.S
    )
    return json.loads(match.group(1))


# --- bad input: a form error that keeps the user's values, never a silent default or a 500 --------


@pytest.mark.parametrize("case", list(BAD_PERIODS))
def test_a_bad_period_is_a_form_error_on_every_filtered_page(viewer, data, case):
    params, message = BAD_PERIODS[case]
    for url in filtered_pages(data):
        response = viewer.get(url, params)
        assert response.status_code == 400, url
        html = response.content.decode()
        assert message in html, url
        assert 'class="errorlist insights-filter-errors"' in html
        for value in (params.get("start"), params.get("end")):
            if value:
                assert f'value="{value}"' in html, (url, value)  # the user's own text, to correct
        assert "Last 30 days</option>" in html and "insights-chart" not in html
        csv_response = viewer.get(url, {**params, "csv": "x"})
        assert csv_response.status_code == 400 and message in csv_response.content.decode()


def test_start_and_end_without_period_mean_a_custom_range(viewer, data):
    response = viewer.get(reverse("insights_app:overview"), {"start": "2026-03-01", "end": "2026-03-07"})
    assert response.status_code == 200
    period = response.context["filters"].period
    assert (period.preset, period.first_day, period.last_day) == (
        "custom",
        dt.date(2026, 3, 1),
        dt.date(2026, 3, 7),
    )
    assert '<option value="custom" selected>' in response.content.decode()


def test_nul_and_control_characters_in_text_filters_are_form_errors(viewer, data):
    for url, params in (
        (reverse("insights_app:overview"), {"room": "a\x00b"}),
        (reverse("insights_app:quality"), {"browser": "Chrome\x00"}),
        (reverse("insights_app:people"), {"q": "\x00"}),
    ):
        response = viewer.get(url, params)
        assert response.status_code == 400, url
        assert "may not contain control characters" in response.content.decode()


def test_a_nul_in_a_person_url_is_not_found_not_a_database_error(viewer, data):
    assert viewer.get("/insights/people/%00/").status_code == 404
    assert viewer.get("/insights/people/a%00b/").status_code == 404


# --- stored data at the edges ----------------------------------------------------------------------


def test_years_1_and_9999_do_not_break_any_page_or_csv_far_east(viewer, data, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    room = data.rooms["alpha"]
    first = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
    last = dt.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=dt.UTC)
    ancient = RoomSession.objects.create(
        room=room, room_session_id="ancient", room_name=room.room_name, started_at=first, ended_at=last
    )
    Participant.objects.create(
        room_session=ancient,
        room=room,
        participant_id="edge-1",
        identity="edge",
        external_id="edge",
        joined_at=dt.datetime(2026, 3, 3, 10, tzinfo=dt.UTC),
        left_at=last,
        quality_degraded=True,
        degraded_seconds=60,
        duration_seconds=60,
    )
    future = Participant.objects.create(
        room_session=ancient,
        room=room,
        participant_id="edge-2",
        identity="edge",
        joined_at=last,
        left_at=last,
    )
    urls = [
        *all_pages(data),
        reverse("insights_app:session", args=[ancient.pk]),
        reverse("insights_app:participant_quality", args=[future.pk]),
        reverse("insights_app:person", args=["edge"]),
    ]
    for url in urls:
        response = viewer.get(url, PERIOD)
        assert response.status_code == 200, url
        for table in response.context.get("tables", []) or []:
            download = viewer.get(url, {**PERIOD, "csv": table.name})
            assert download.status_code == 200, (url, table.name)
            csv_rows(download)
    html = viewer.get(reverse("insights_app:participant_quality", args=[future.pk])).content.decode()
    assert "9999-12-31 23:59:59 UTC" in html  # shown in UTC, and saying so, where Tokyo time overflows


@pytest.mark.parametrize(
    "external_id", ["..", ".", "../../../admin/auth/user//", "a/../b", "~2F", "x~y", "a%2Fb", "a b?c#d"]
)
def test_external_ids_round_trip_and_never_leave_the_people_pages(viewer, data, external_id):
    session = data.sessions["S1"]
    Participant.objects.create(
        room_session=session,
        room=session.room,
        participant_id=f"odd-{external_id}",
        identity=external_id,
        external_id=external_id,
        joined_at=dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC),
        left_at=dt.datetime(2026, 3, 2, 10, 5, tzinfo=dt.UTC),
        duration_seconds=300,
    )
    url = reverse("insights_app:person", args=[external_id])
    prefix = reverse("insights_app:people")
    segment = url.removeprefix(prefix).removesuffix("/")
    # One path segment that no browser resolves away ("." / ".." also when percent-encoded).
    assert "/" not in segment and unquote(segment).strip(".") != ""
    assert resolve(unquote(url)).kwargs["external_id"] == external_id  # as the server decodes it
    response = viewer.get(url, PERIOD)
    assert response.status_code == 200
    assert response.context["external_id"] == external_id
    html = viewer.get(reverse("insights_app:session", args=[session.pk])).content.decode()
    assert re.search(rf'href="{re.escape(url)}(\?[^"]*)?"', html)  # the period that holds the session


def test_absurd_session_totals_do_not_overflow_the_overview_or_its_csv(viewer, data):
    room = data.rooms["gamma"]
    for n in range(2):
        RoomSession.objects.create(
            room=room,
            room_session_id=f"huge-{n}",
            room_name=room.room_name,
            started_at=dt.datetime(2026, 3, 3, 9, n, tzinfo=dt.UTC),
            ended_at=dt.datetime(2026, 3, 3, 9, n + 1, tzinfo=dt.UTC),
            duration_seconds=60,
            total_participant_minutes=1.5e308,
        )
    before = viewer.get(reverse("insights_app:overview"), PERIOD)
    assert before.status_code == 200
    minutes = next(k for k in before.context["kpis"] if k["key"] == "participant_minutes")
    assert minutes["value"] < 1e12  # the absurd totals are left out of the sums, not "inf"
    assert "inf" not in minutes["text"]
    download = viewer.get(reverse("insights_app:overview"), {**PERIOD, "csv": "top_rooms"})
    assert download.status_code == 200
    assert all("inf" not in cell for row in csv_rows(download) for cell in row)


# --- who may read ---------------------------------------------------------------------------------


def test_reports_need_staff_and_the_permission(client, django_user_model, data):
    client.force_login(make_user(django_user_model, "outsider", "view_reports", staff=False))
    for url in all_pages(data):
        assert client.get(url, PERIOD).status_code == 403, url
    client.force_login(make_user(django_user_model, "staffer", "view_reports"))
    for url in all_pages(data):
        assert client.get(url, PERIOD).status_code == 200, url


def test_report_pages_and_csv_are_private_to_caches(viewer, data):
    for url in all_pages(data):
        response = viewer.get(url, PERIOD)
        assert "private" in response["Cache-Control"], url
    download = viewer.get(reverse("insights_app:people"), {**PERIOD, "csv": "people"})
    assert "private" in download["Cache-Control"]


# --- CSV ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [" =1+1", "\n=1+1", "＝1+1", "＋1", "\u200b=1", "\u00a0@x", "\t=1"])
def test_csv_neutralises_hidden_and_full_width_formula_starts(text):
    assert neutralise(text) == "'" + text


def test_csv_has_a_bom_units_in_headers_and_whole_counts(viewer, data):
    rows = csv_rows(
        viewer.get(reverse("insights_app:room", args=[data.rooms["alpha"].pk]), {**PERIOD, "csv": "sessions"})
    )
    header = rows[0]
    assert "Length (s)" in header and "Participants" in header
    participants = [r[header.index("Participants")] for r in rows[1:]]
    assert participants and all(re.fullmatch(r"\d+", p) for p in participants if p)
    lengths = [r[header.index("Length (s)")] for r in rows[1:]]
    assert all(re.fullmatch(r"\d+", v) for v in lengths if v)


# --- numbers people read --------------------------------------------------------------------------


def test_formats_of_durations_bitrates_and_bytes():
    from insights_app.display.durations import format_duration
    from insights_app.display.numbers import format_bitrate, format_bytes

    assert format_duration(1139) == "18 min 59 s"
    assert format_duration(3900) == "1 h 05 min"
    assert format_bitrate(1606849) == "1.6 Mbit/s"
    assert format_bitrate(850_000) == "850.0 kbit/s"
    assert format_bytes(1903463) == "1.9 MB"


def test_pages_show_durations_and_units_not_raw_seconds(viewer, data):
    session = viewer.get(reverse("insights_app:session", args=[data.sessions["S1"].pk])).content.decode()
    length = re.search(r'class="insights-session-length">([^<]*)<', session).group(1)
    assert re.fullmatch(r"\s*\d+ (h \d\d min|min \d\d s|s)\s*", length), length
    connection_page = viewer.get(reverse("insights_app:participant_quality", args=[data.people["p2"].pk]))
    html = connection_page.content.decode()
    assert re.search(r"<dt>Connected for</dt><dd>\d+ min \d\d s</dd>", html)
    assert "kbit/s" in html or "Mbit/s" in html
    assert not re.search(r"Connected for</dt><dd>\d+ s</dd>", html)


def test_thousands_separators_in_kpis_and_tables(viewer, data):
    room = data.rooms["gamma"]
    start = dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC)
    sessions = RoomSession.objects.bulk_create(
        RoomSession(
            room=room,
            room_session_id=f"many-{i}",
            room_name=room.room_name,
            started_at=start + dt.timedelta(seconds=i),
            ended_at=start + dt.timedelta(seconds=i + 60),
            duration_seconds=60,
            total_participant_minutes=1,
            total_unique_participants=1,
        )
        for i in range(1200)
    )
    rebuild()  # a bulk load is followed by a rollup rebuild
    Participant.objects.bulk_create(
        Participant(
            room_session=s,
            room=room,
            participant_id=f"many-p-{s.room_session_id}",
            identity=f"many-{s.pk}",
            joined_at=s.started_at,
            left_at=s.ended_at,
            duration_seconds=60,
        )
        for s in sessions
    )
    rebuild()  # a bulk load is followed by a rollup rebuild
    overview = viewer.get(reverse("insights_app:overview"), PERIOD)
    sessions_kpi = next(k for k in overview.context["kpis"] if k["key"] == "sessions")
    assert re.fullmatch(r"1,2\d\d", sessions_kpi["text"])
    quality = viewer.get(reverse("insights_app:quality"), PERIOD).content.decode()
    assert re.search(r"of 1,2\d\d connections", quality)


def test_changes_say_no_earlier_data_only_for_zero_and_are_honest_for_tiny_baselines(viewer, data):
    from insights_app.reports.views.overview import change_text

    assert change_text(5, 0, "int") == "no earlier data to compare"
    assert change_text(2972, 28, "int") == "106.1× the previous period (28)"
    assert change_text(110, 100, "int") == "+10.0 % vs previous period (100)"
    assert change_text(0, 0, "int") != "no earlier data to compare"
    cards = viewer.get(reverse("insights_app:overview"), PERIOD).context["kpis"]
    assert not any("+" in c["change_text"] and "×" in c["change_text"] for c in cards)


def test_sort_links_have_human_labels(viewer, data):
    html = viewer.get(reverse("insights_app:room", args=[data.rooms["alpha"].pk]), PERIOD).content.decode()
    sorts = re.search(r'<span class="insights-sorts">(.*?)</span>', html, re.S).group(1)
    shown = re.sub(r"<[^>]+>", "", sorts)
    assert "oldest first" in shown and "newest first" in shown
    assert "started_asc" not in shown and "_" not in shown
    people = viewer.get(reverse("insights_app:people"), PERIOD).content.decode()
    shown = re.sub(
        r"<[^>]+>", "", re.search(r'<span class="insights-sorts">(.*?)</span>', people, re.S).group(1)
    )
    assert "last_seen" not in shown and "external_id" not in shown and "seen most recently" in shown


# --- people ---------------------------------------------------------------------------------------


def test_people_show_names_once_with_clear_headers_and_search(viewer, data):
    response = viewer.get(reverse("insights_app:people"), PERIOD)
    table = response.context["tables"][0]
    headers = [str(c.label) for c in table.columns]
    assert headers[:2] == ["Name", "External id"] and "Now" not in headers
    row = next(r for r in table.rows if r["external_id"] == "u-1")
    assert row["label"] == "Alice"  # the name, not the external id again
    by_name = viewer.get(reverse("insights_app:people"), {**PERIOD, "q": "ali"}).context["tables"][0].rows
    assert [r["external_id"] for r in by_name] == ["u-1"]
    by_id = viewer.get(reverse("insights_app:people"), {**PERIOD, "q": "U-2"}).context["tables"][0].rows
    assert [r["external_id"] for r in by_id] == ["u-2"]
    html = viewer.get(reverse("insights_app:people"), {**PERIOD, "q": "ali"}).content.decode()
    assert 'name="q" value="ali"' in html


def test_a_person_page_is_titled_with_the_name(viewer, data):
    response = viewer.get(reverse("insights_app:person", args=["u-1"]), PERIOD)
    assert str(response.context["title"]) == "Alice"
    assert "<title>Alice |" in response.content.decode()


# --- quality --------------------------------------------------------------------------------------


def test_quality_says_how_many_connections_are_measured_and_why(viewer, data, settings):
    settings.WHEREBY_INSIGHTS = {"DETAIL_POLICY": "recent", "DETAIL_RECENT_DAYS": 7}
    html = viewer.get(reverse("insights_app:quality"), PERIOD).content.decode()
    note = re.search(r'id="insights-measured-note">(.*?)</p>', html, re.S).group(1)
    assert re.search(r"\d+ of \d+ connections in this period are measured", note)
    assert "last 7 days" in note


def test_quality_by_room_is_sorted_by_degraded_share_and_charts_minutes(viewer, data):
    response = viewer.get(reverse("insights_app:quality"), PERIOD)
    rows = next(t for t in response.context["tables"] if t.name == "by_room").rows
    shares = [r["degraded_minutes_pct"] or 0 for r in rows]
    assert shares == sorted(shares, reverse=True)
    by_room = figure(response, "by_room")
    assert by_room["layout"]["xaxis"]["title"]["text"] == "Degraded minutes (min)"
    assert by_room["data"][0]["x"] == [round(r["degraded_minutes"], 1) for r in reversed(rows)]
    assert by_room["links"] == [r["url"] for r in reversed(rows)]


def test_quality_filters_by_browser_os_and_role_and_bars_lead_there(viewer, data):
    everything = viewer.get(reverse("insights_app:quality"), PERIOD)
    browsers = figure(everything, "by_browser")
    assert browsers["links"], "every browser bar links to its rows"
    link = browsers["links"][-1]
    name = browsers["data"][0]["y"][-1]
    narrowed = viewer.get(reverse("insights_app:quality") + link)
    assert narrowed.status_code == 200
    assert narrowed.context["filters"].browser == name
    assert (
        narrowed.context["totals"]["connections"]
        == Participant.objects.filter(
            browser=name, joined_at__date__gte="2026-03-01", joined_at__date__lte="2026-03-07"
        ).count()
    )
    for param, column in (("os", "os"), ("role", "role_name")):
        value = (
            Participant.objects.exclude(**{f"{column}__isnull": True})
            .exclude(**{column: ""})
            .values_list(column, flat=True)
            .first()
        )
        response = viewer.get(reverse("insights_app:quality"), {**PERIOD, param: value})
        expected = Participant.objects.filter(
            **{column: value}, joined_at__date__gte="2026-03-01", joined_at__date__lte="2026-03-07"
        ).count()
        assert response.context["totals"]["connections"] == expected, param


def test_heatmap_draws_an_hour_without_sessions_as_zero(viewer, data):
    heatmap = figure(viewer.get(reverse("insights_app:overview"), PERIOD), "heatmap")["data"][0]
    assert heatmap["zmin"] == 0
    zero_colour = heatmap["colorscale"][0][1]
    assert zero_colour.startswith("#") and len(zero_colour) == 7  # opaque, not a see-through gap


# --- freshness, time zone, fetching samples -------------------------------------------------------


def test_every_page_says_how_fresh_the_data_is_and_names_the_time_zone(viewer, data, settings):
    settings.TIME_ZONE = "Europe/Oslo"
    SyncRun.objects.create(
        kind="full",
        trigger="command",
        dedup_key="a",
        status="succeeded",
        started_at=dt.datetime(2026, 3, 8, 11, tzinfo=dt.UTC),
        finished_at=dt.datetime(2026, 3, 8, 11, 5, tzinfo=dt.UTC),
    )
    SyncRun.objects.create(kind="incremental", trigger="schedule", dedup_key="b", status="running")
    for url in all_pages(data):
        html = viewer.get(url, PERIOD).content.decode()
        line = re.search(
            r'<p class="insights-freshness" id="insights-freshness">(.*?)</p>', html, re.S
        ).group(1)
        assert "Data as of 2026-03-08 12:05 (synced" in line, url
        assert "a sync is running" in line and "history complete from 2026-02-" in line
        assert html.count("times in Europe/Oslo") == 1 and "site time" not in html


def test_the_fetch_samples_button_queues_a_details_sync_for_run_sync_users(
    client, django_user_model, data, redis_conn
):
    p3 = data.people["p3"]
    url = reverse("insights_app:participant_quality", args=[p3.pk])
    fetch = reverse("insights_app:fetch_connection_samples", args=[p3.pk])
    assert not p3.details.exists()
    client.force_login(make_user(django_user_model, "reader", "view_reports"))
    assert "Fetch network samples" not in client.get(url).content.decode()
    assert client.post(fetch).status_code == 403
    client.force_login(make_user(django_user_model, "syncer", "view_reports", "run_sync"))
    html = client.get(url).content.decode()
    assert f'action="{fetch}"' in html and "Fetch network samples" in html
    assert client.get(fetch).status_code == 405  # a GET never queues anything
    response = client.post(fetch, {"next": url})
    assert response.status_code == 302 and response["Location"] == url
    run = SyncRun.objects.get()
    assert run.kind == "details" and run.scope["participant_ids"] == [p3.pk]
    assert "Queued" in client.get(url).content.decode()
    offsite = client.post(fetch, {"next": "https://evil.example/"})
    assert offsite["Location"] == reverse("insights_app:overview")
    assert client.post(reverse("insights_app:fetch_connection_samples", args=[10**9])).status_code == 404


def test_a_session_fetches_the_samples_of_its_unmeasured_connections(
    client, django_user_model, data, redis_conn
):
    session = data.sessions["S1"]
    url = reverse("insights_app:session", args=[session.pk])
    client.force_login(make_user(django_user_model, "syncer", "view_reports", "run_sync"))
    html = client.get(url).content.decode()
    assert "queues a sync of the samples of 1 connection" in html  # p1b has none
    client.post(reverse("insights_app:fetch_session_samples", args=[session.pk]), {"next": url})
    run = SyncRun.objects.get()
    assert run.kind == "details" and run.scope["participant_ids"] == [data.people["p1b"].pk]


def test_room_page_has_a_quality_summary(viewer, data):
    html = viewer.get(reverse("insights_app:room", args=[data.rooms["alpha"].pk]), PERIOD).content.decode()
    summary = re.search(r'id="insights-quality-summary"(.*?)</section>', html, re.S).group(1)
    assert re.search(r"\d+ degraded of \d+ measured connections", summary)
