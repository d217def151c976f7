"""The freshness line in one statement whatever the number of runs; the role filter's list of values."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from insights_app.models import Participant, SyncRun
from insights_app.reports.freshness import freshness
from tests.helpers.reports_dataset import PERIOD, build_dataset

pytestmark = pytest.mark.django_db

FINISHED = dt.datetime(2026, 3, 8, 11, 5, tzinfo=dt.UTC)


@pytest.fixture
def viewer(django_user_model, client):
    user = django_user_model.objects.create_user("viewer", password="pw-12345678", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_reports"))
    client.force_login(user)
    return client


def run(n: int, status: str, finished: dt.datetime | None, **fields: object) -> SyncRun:
    return SyncRun.objects.create(
        dedup_key=f"k{n}", trigger="schedule", status=status, finished_at=finished, **fields
    )


def test_freshness_is_one_statement_and_skips_partial_runs_that_lost_rooms():
    run(0, "succeeded", FINISHED - dt.timedelta(hours=1), kind="full")
    run(1, "partial", FINISHED, skip_reasons={"participants: missing participantId": 2})
    # Newer, but an outage lost a room: the data is not fresher than the run before.
    for n in range(2, 42):
        run(n, "partial", FINISHED + dt.timedelta(minutes=n), skip_reasons={"room /a: answered 503": 1})
    run(99, "running", None)
    with CaptureQueriesContext(connection) as queries:
        line = freshness()
    assert len(queries) == 1
    assert line.synced_at == FINISHED and line.running and line.history_complete
    assert line.history_from is None  # no sessions stored


def test_freshness_looks_at_the_newest_fifty_completed_runs_only():
    run(0, "succeeded", FINISHED)
    for n in range(1, 51):
        run(n, "partial", FINISHED + dt.timedelta(minutes=n), skip_reasons={"batch 3: timed out": 1})
    line = freshness()
    assert line.synced_at is None and not line.running and not line.history_complete


def test_freshness_reads_dates_as_aware_instants(settings):
    build_dataset()
    run(0, "succeeded", FINISHED, kind="incremental")
    line = freshness()
    assert line.synced_at == FINISHED and line.synced_at.tzinfo is not None
    assert line.history_from == dt.datetime(2026, 2, 25, 9, tzinfo=dt.UTC)
    assert not line.history_complete  # no full sync yet


def test_the_role_filter_offers_the_stored_roles_escaped(viewer):
    data = build_dataset()
    Participant.objects.filter(pk=data.people["p1"].pk).update(role_name='<b onmouseover="x">boss</b>')
    html = viewer.get(reverse("insights_app:quality"), PERIOD).content.decode()
    options = re.search(r'<datalist id="insights-role-options">(.*?)</datalist>', html, re.S)
    assert options, "the role field has a list of values like browser and OS"
    values = re.findall(r'<option value="([^"]*)">', options.group(1))
    stored = sorted(
        set(
            Participant.objects.exclude(role_name="")
            .exclude(role_name=None)
            .values_list("role_name", flat=True)
        )
    )
    assert len(values) == len(stored) >= 2
    assert "&lt;b onmouseover=&quot;x&quot;&gt;boss&lt;/b&gt;" in values and "<b onmouseover" not in html
    assert 'list="insights-role-options"' in html


def test_the_freshness_line_links_to_the_sync_dashboard(viewer):
    data = build_dataset()
    html = viewer.get(reverse("insights_app:session", args=[data.sessions["S1"].pk])).content.decode()
    line = re.search(r'<p class="insights-freshness" id="insights-freshness">(.*?)</p>', html, re.S).group(1)
    assert f'<a href="{reverse("admin:insights_app_syncrun_dashboard")}">Sync dashboard</a>' in line


def test_session_page_has_a_quality_summary_with_its_own_counts(viewer):
    data = build_dataset()
    session = data.sessions["S1"]
    html = viewer.get(reverse("insights_app:session", args=[session.pk])).content.decode()
    summary = re.search(r'id="insights-quality-summary"(.*?)</section>', html, re.S).group(1)
    people = Participant.objects.filter(room_session=session)
    measured = people.exclude(quality_degraded=None)
    degraded = measured.filter(quality_degraded=True).count()
    assert f"{degraded} degraded of {measured.count()} measured connections" in " ".join(summary.split())
