"""Every report page's numbers against hand-computed expectations on the known dataset."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.helpers.reports_dataset import EVIL_ID, PERIOD, SLASH_ID, _join, build_dataset, t

pytestmark = pytest.mark.django_db


@pytest.fixture
def data():
    return build_dataset()


def kpis(response) -> dict:
    return {k["key"]: k for k in response.context["kpis"]}


def chart(response, chart_id: str) -> dict:
    return next(c for c in response.context["charts"] if c.id == chart_id).figure


def table(response, name: str):
    return next(t for t in response.context["tables"] if t.name == name)


def test_overview_counts_sessions_by_start_in_utc(admin_client, data):
    response = admin_client.get(reverse("insights_app:overview"), PERIOD)
    k = kpis(response)
    # S1, S2, S4 (crosses the end, started inside), S5 (ongoing); not S3 (started the day before).
    assert k["sessions"]["value"] == 4
    assert k["participant_minutes"]["value"] == 60 + 120 + 300 + 10
    assert k["recorder_minutes"]["value"] == 30
    assert k["streamer_minutes"]["value"] == 15
    # Ongoing S5 is left out of the average: (1800 + 3600 + 10800) / 3.
    assert k["avg_session_seconds"]["value"] == pytest.approx(5400)
    # Weighted by number of ratings: (4 * 2 + 5 * 1) / 3.
    assert k["avg_rating"]["value"] == pytest.approx(13 / 3)
    # u-1 (4 connections, incl. one in a session that started before the range), =SUM(A1), wb-9, a/b..., u-2.
    assert k["unique_participants"]["value"] == 5
    # Previous week: S3 and S6, 240 + 20 minutes, one person (u-3).
    assert k["sessions"]["previous"] == 2
    assert k["sessions"]["change"] == pytest.approx(100.0)
    assert k["participant_minutes"]["change"] == pytest.approx((490 - 260) / 260 * 100)
    assert k["unique_participants"]["change"] == pytest.approx(400.0)
    assert response.context["ongoing"] == 1
    html = response.content.decode()
    assert "+100.0 %" in html and "1 h 30 min" in html


def test_overview_charts_and_top_rooms_in_utc(admin_client, data):
    response = admin_client.get(reverse("insights_app:overview"), PERIOD)
    usage = chart(response, "usage")
    x, minutes, sessions = usage["data"][0]["x"], usage["data"][0]["y"], usage["data"][1]["y"]
    assert x[0] == "2026-03-01" and x[-1] == "2026-03-07" and len(x) == 7
    assert dict(zip(x, minutes, strict=True))["2026-03-04"] == 120
    assert dict(zip(x, sessions, strict=True)) == {
        "2026-03-01": 0,
        "2026-03-02": 1,
        "2026-03-03": 0,
        "2026-03-04": 1,
        "2026-03-05": 1,
        "2026-03-06": 0,
        "2026-03-07": 1,
    }
    grid = chart(response, "heatmap")["data"][0]["z"]
    assert grid[0][10] == 1  # S1: Monday 10:00 UTC
    assert grid[2][2] == 1  # S2: Wednesday 02:30 UTC
    assert sum(map(sum, grid)) == 4
    sizes = chart(response, "sizes")["data"][0]
    assert dict(zip(sizes["x"], sizes["y"], strict=True)) == {
        "1": 1,
        "2": 1,
        "3": 1,
        "4": 0,
        "5–9": 1,
        "10–19": 0,
        "20+": 0,
    }
    rooms = table(response, "top_rooms").rows
    assert [(r["room__room_name"], r["sessions"], r["minutes"]) for r in rooms] == [
        ("/beta", 2, 310.0),
        ("/alpha", 2, 180.0),
    ]


def test_overview_buckets_and_ranges_in_the_site_time_zone(admin_client, data, settings):
    settings.TIME_ZONE = "America/New_York"
    response = admin_client.get(reverse("insights_app:overview"), PERIOD)
    k = kpis(response)
    # The local week runs 05:00 UTC to 05:00 UTC: S7 (01:00 UTC on the 8th) is now inside.
    assert k["sessions"]["value"] == 5
    assert k["participant_minutes"]["value"] == 540
    assert k["unique_participants"]["value"] == 6  # + u-4, - nobody (p9 joined 00:30 UTC, before 05:00 UTC)
    usage = chart(response, "usage")
    per_day = dict(zip(usage["data"][0]["x"], usage["data"][1]["y"], strict=True))
    assert per_day["2026-03-03"] == 1  # S2 started 21:30 on the 3rd, New York time
    assert per_day["2026-03-04"] == 0
    assert per_day["2026-03-07"] == 2  # S4 at 18:00 and S7 at 20:00
    grid = chart(response, "heatmap")["data"][0]["z"]
    assert grid[0][5] == 1  # S1 at 05:00 on Monday in New York
    assert grid[1][21] == 1  # S2 at 21:30 on Tuesday


def test_room_filter_narrows_every_number(admin_client, data):
    response = admin_client.get(reverse("insights_app:overview"), {**PERIOD, "room": "alp"})
    k = kpis(response)
    assert k["sessions"]["value"] == 2
    assert k["participant_minutes"]["value"] == 180
    assert k["unique_participants"]["value"] == 4  # u-1 and =SUM(A1) in S1; wb-9 and a/b... in S2
    assert [r["room__room_name"] for r in table(response, "top_rooms").rows] == ["/alpha"]


def test_unique_people_by_room_this_week_and_the_week_before(admin_client, data):
    # Beta: u-2 (S4, S5) and u-1 (p9 joined 00:30 on the 1st in S3) this week; u-3 (p8) the week before.
    beta = admin_client.get(reverse("insights_app:room", args=[data.rooms["beta"].pk]), PERIOD)
    people = kpis(beta)["unique_participants"]
    assert (people["value"], people["previous"]) == (2, 1)
    # The same room through the overview's room filter; alpha had only u-3 (S6) the week before.
    for text, expected in (("bet", (2, 1)), ("alp", (4, 1))):
        response = admin_client.get(reverse("insights_app:overview"), {**PERIOD, "room": text})
        people = kpis(response)["unique_participants"]
        assert (people["value"], people["previous"]) == expected


def test_people_are_counted_by_the_identity_the_sync_stored(admin_client, data):
    # Only a device id: the sync makes it the identity, so two connections of it are one person.
    for key, minute in (("d1", 0), ("d2", 5)):
        _join(data.sessions["S1"], key, t(2, 10, minute), t(2, 10, 10), device_id="dev-7")
    response = admin_client.get(reverse("insights_app:overview"), PERIOD)
    assert kpis(response)["unique_participants"]["value"] == 5 + 1


def test_longer_periods_bucket_by_week(admin_client, data):
    response = admin_client.get(
        reverse("insights_app:overview"), {"period": "custom", "start": "2026-01-01", "end": "2026-03-31"}
    )
    usage = chart(response, "usage")
    per_week = dict(zip(usage["data"][0]["x"], usage["data"][1]["y"], strict=True))
    assert per_week["2026-02-23"] == 2  # S6 (25 Feb) and S3 (28 Feb)
    assert per_week["2026-03-02"] == 5  # S1, S2, S5, S4 and S7 (Sunday 8 March)
    assert next(iter(per_week)) == "2025-12-29"  # the week holding 1 January starts on Monday 29 December


def test_room_page_kpis_and_sessions_table(admin_client, data):
    beta = data.rooms["beta"]
    response = admin_client.get(reverse("insights_app:room", args=[beta.pk]), PERIOD)
    assert kpis(response)["sessions"]["value"] == 2
    assert kpis(response)["participant_minutes"]["value"] == 310
    rows = table(response, "sessions").rows
    assert [r["room_session_id"] for r in rows] == ["sess-S4", "sess-S5"]
    ongoing = rows[1]
    assert str(ongoing["state"]) == "ongoing"
    elapsed = (timezone.now() - data.sessions["S5"].started_at).total_seconds()
    assert ongoing["duration_seconds"] == pytest.approx(elapsed, abs=60)
    by_length = admin_client.get(reverse("insights_app:room", args=[beta.pk]), {**PERIOD, "sort": "size"})
    assert [r["room_session_id"] for r in table(by_length, "sessions").rows] == ["sess-S4", "sess-S5"]
    alpha = admin_client.get(
        reverse("insights_app:room", args=[data.rooms["alpha"].pk]), {**PERIOD, "sort": "duration"}
    )
    assert [r["room_session_id"] for r in table(alpha, "sessions").rows] == ["sess-S2", "sess-S1"]


def test_session_timeline_puts_reconnects_on_one_row_and_escapes_names(admin_client, data):
    response = admin_client.get(reverse("insights_app:session", args=[data.sessions["S1"].pk]))
    figure = chart(response, "timeline")
    # Bars are coloured by each connection's quality; the role is in the hover, as data.
    by_name = {trace["name"]: trace for trace in figure["data"] if trace.get("showlegend") is not False}
    good, degraded, unknown = by_name["good"], by_name["degraded"], by_name["no quality data"]
    assert good["y"] == unknown["y"] == ["Alice"]  # p1 and its reconnect p1b share a row
    assert [good["x"][0], unknown["x"][0]] == [1200 * 1000.0, 540 * 1000.0]
    assert good["base"][0].startswith("2026-03-02T10:00:00")
    assert good["marker"]["color"] != degraded["marker"]["color"] != unknown["marker"]["color"]
    # Escaped for Plotly, which renders tags (links!) in labels and shows entities as the plain text.
    assert degraded["y"] == ["+danger&lt;script&gt;x&lt;/script&gt;"]
    assert degraded["customdata"][0][3] == "visitor" and "visitor" not in degraded["hovertemplate"]
    # One time axis (a second one was misaligned): below the bars of a short list.
    assert "xaxis2" not in figure["layout"] and not any(trace.get("xaxis") for trace in figure["data"])
    assert figure["layout"]["xaxis"]["side"] == "bottom"
    # Escaped on the axis too (shortened there when long).
    assert figure["layout"]["yaxis"]["ticktext"] == ["Alice", "+danger&lt;scr…x&lt;/script&gt;"]
    html = response.content.decode()
    assert "<script>x</script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert response.context["people_count"] == "2"
    assert response.context["roles"] == ["host", "visitor"]
    rows = table(response, "connections").rows
    assert [str(r["quality"]) for r in rows] == ["good", "degraded", "no data"]


def test_session_page_of_an_ongoing_session_runs_bars_to_now(admin_client, data):
    response = admin_client.get(reverse("insights_app:session", args=[data.sessions["S5"].pk]))
    trace = chart(response, "timeline")["data"][0]
    elapsed_ms = (timezone.now() - data.people["p7"].joined_at).total_seconds() * 1000
    assert trace["x"][0] == pytest.approx(elapsed_ms, abs=60_000)
    assert "ongoing" in response.content.decode()


def test_participant_quality_draws_samples_and_the_threshold(admin_client, data):
    response = admin_client.get(reverse("insights_app:participant_quality", args=[data.people["p2"].pk]))
    loss = chart(response, "loss")
    send = next(trace for trace in loss["data"] if trace["name"] == "Loss sent")
    assert send["y"] == [0.0, 1.5, 4.0, None, 5.0]
    assert send["dx"] == 2000 and send["x0"].startswith("2026-03-02T10:05:00")
    assert loss["layout"]["shapes"][0]["y0"] == 3.0
    rate = chart(response, "bitrate")
    sent = next(trace for trace in rate["data"] if trace["name"] == "Bitrate sent")
    assert sent["y"] == [800.0, 900.0, None, 500.0, 450.0]  # kbit/s
    assert rate["layout"]["yaxis"]["title"]["text"] == "Bitrate (kbit/s)"
    html = response.content.decode()
    assert "Chrome" in html and "Windows" in html and "degraded" in html


def test_participant_without_samples_says_so(admin_client, data):
    response = admin_client.get(reverse("insights_app:participant_quality", args=[data.people["p1"].pk]))
    assert response.context["charts"] == []
    assert "No network samples are stored" in response.content.decode()


def test_quality_overview_shares_dimensions_and_worst_sessions(admin_client, data):
    response = admin_client.get(reverse("insights_app:quality"), PERIOD)
    totals = response.context["totals"]
    # Connections joined in the week: 10 (p1, p1b, p2, p3, p4, p5, p6, p7, p9 ...); measured: p1 p2 p3 p5 p6.
    assert totals["connections"] == 9
    assert totals["measured"] == 5
    assert totals["degraded"] == 2
    assert totals["degraded_pct"] == pytest.approx(40.0)
    assert totals["degraded_minutes_pct"] == pytest.approx(900 / (1200 + 1500 + 3600 + 1200 + 10800) * 100)
    browsers = {r["key"]: (r["measured"], r["degraded"]) for r in table(response, "by_browser").rows}
    assert browsers == {"Chrome": (3, 1), "Firefox": (1, 0), "Safari": (1, 1)}
    rooms = table(response, "by_room").rows
    assert [r["key"] for r in rooms] == ["/alpha", "/beta"]
    worst = table(response, "worst_sessions").rows
    assert [r["room_session_id"] for r in worst] == [data.sessions["S2"].pk, data.sessions["S1"].pk]
    assert worst[0]["degraded_minutes"] == pytest.approx(10.0)


def test_people_usage_by_external_id(admin_client, data):
    response = admin_client.get(reverse("insights_app:people"), PERIOD)
    rows = {r["external_id"]: r for r in table(response, "people").rows}
    assert set(rows) == {"u-1", "u-2", EVIL_ID, SLASH_ID}
    assert (rows["u-1"]["sessions"], rows["u-1"]["connections"]) == (3, 4)
    assert rows["u-1"]["minutes"] == pytest.approx((1200 + 540 + 3600 + 1800) / 60)
    assert rows["u-1"]["last_seen"] == dt.datetime(2026, 3, 4, 3, 30, tzinfo=dt.UTC)
    # u-2 is still connected in S5: its minutes run to now.
    ongoing_minutes = (timezone.now() - data.people["p7"].joined_at).total_seconds() / 60
    assert rows["u-2"]["minutes"] == pytest.approx(180 + ongoing_minutes, abs=1)
    assert str(rows["u-2"]["state"]) == "yes"
    order = [r["external_id"] for r in table(response, "people").rows]
    assert order == ["u-2", "u-1", EVIL_ID, SLASH_ID]


def test_person_page_round_trips_any_external_id(admin_client, data):
    url = reverse("insights_app:person", args=[SLASH_ID])
    response = admin_client.get(url, PERIOD)
    assert response.status_code == 200
    assert response.context["external_id"] == SLASH_ID
    assert response.context["totals"]["connections"] == 1
    assert response.context["totals"]["minutes"] == pytest.approx(20.0)
    p = data.people["p1"]
    for odd in ("..", "x\ny", "%41", "/lead/", "ü ñ/?&=#"):
        p.pk = None
        p.participant_id = f"odd-{odd}"
        p.external_id = odd
        p.save()
        page = admin_client.get(reverse("insights_app:person", args=[odd]), PERIOD)
        assert page.status_code == 200, odd
        assert page.context["external_id"] == odd


def test_person_page_of_an_unknown_id_is_404(admin_client, data):
    assert admin_client.get(reverse("insights_app:person", args=["nobody"])).status_code == 404
