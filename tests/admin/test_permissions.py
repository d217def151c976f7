"""Who sees what: anonymous, staff without permissions, viewers, and staff allowed to run syncs."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import include, path, reverse

from insights_app.models import SyncRun

pytestmark = pytest.mark.django_db

DASHBOARD = "admin:insights_app_syncrun_dashboard"
STATUS = "admin:insights_app_syncrun_dashboard_status"
START = "admin:insights_app_syncrun_start"
CANCEL = "admin:insights_app_syncrun_cancel"
CHANGELISTS = ("room", "roomsession", "participant", "syncrun")


def _report(request, *args):
    from django.http import HttpResponse

    return HttpResponse("report")


# A URLconf with the report URL names the reports app will provide, to check the admin links to them.
report_patterns = (
    [
        path("", _report, name="overview"),
        path("rooms/<int:pk>/", _report, name="room"),
        path("sessions/<int:pk>/", _report, name="session"),
        path("participants/<int:pk>/", _report, name="participant_quality"),
        path("quality/", _report, name="quality"),
        path("people/", _report, name="people"),
        path("people/<str:external_id>/", _report, name="person"),
    ],
    "insights_app",
)
urlpatterns = [
    path("admin/", __import__("django.contrib.admin", fromlist=["site"]).site.urls),
    path("insights/", include(report_patterns)),
]


@pytest.fixture
def queued_run():
    return SyncRun.objects.create(
        kind="incremental", status="queued", trigger="admin", dedup_key="incremental"
    )


def test_anonymous_is_sent_to_login(client, queued_run):
    urls = [reverse(f"admin:insights_app_{m}_changelist") for m in CHANGELISTS]
    urls += [reverse(DASHBOARD), reverse(STATUS)]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url
    for url in (reverse(START), reverse(CANCEL, args=[queued_run.pk])):
        response = client.post(url, {"kind": "full"})
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url
    assert SyncRun.objects.count() == 1


def test_staff_without_permissions_sees_nothing(client, nobody, queued_run):
    client.force_login(nobody)
    for model in CHANGELISTS:
        assert client.get(reverse(f"admin:insights_app_{model}_changelist")).status_code == 403
    assert client.get(reverse(DASHBOARD)).status_code == 403
    assert client.get(reverse(STATUS)).status_code == 403
    assert client.post(reverse(START), {"kind": "full"}).status_code == 403
    assert client.post(reverse(CANCEL, args=[queued_run.pk])).status_code == 403
    index = client.get(reverse("admin:index")).content.decode()
    assert "Sync dashboard" not in index
    queued_run.refresh_from_db()
    assert queued_run.status == "queued" and SyncRun.objects.count() == 1


@pytest.mark.integration  # the dashboard reads the queue from Redis
def test_viewer_sees_data_but_no_sync_controls(client, viewer, data, queued_run):
    client.force_login(viewer)
    rooms = client.get(reverse("admin:insights_app_room_changelist")).content.decode()
    assert "/room-0" in rooms
    assert "Sync now" not in rooms
    assert "sync_selected_rooms" not in rooms
    participants = client.get(reverse("admin:insights_app_participant_changelist")).content.decode()
    assert "fetch_details_for_selected" not in participants
    assert "sync_selected_external_ids" not in participants
    sessions = client.get(reverse("admin:insights_app_roomsession_changelist")).content.decode()
    assert "sync_selected_sessions" not in sessions
    dashboard = client.get(reverse(DASHBOARD))
    assert dashboard.status_code == 200
    html = dashboard.content.decode()
    assert "Queued and running" in html
    assert "Start a sync" not in html and "insights-cancel" not in html
    status = client.get(reverse(STATUS)).json()
    assert [run["id"] for run in status["active"]] == [queued_run.pk]
    assert status["active"][0]["cancel_url"] is None


def test_viewer_forged_posts_are_refused(client, viewer, data, queued_run):
    client.force_login(viewer)
    assert client.post(reverse(START), {"kind": "full"}).status_code == 403
    assert client.post(reverse(CANCEL, args=[queued_run.pk])).status_code == 403
    # A forged action POST: Django ignores actions the user does not have; nothing is queued.
    room = data.rooms[0]
    response = client.post(
        reverse("admin:insights_app_room_changelist"),
        {"action": "sync_selected_rooms", "_selected_action": [room.pk], "index": 0},
    )
    assert response.status_code in (200, 302)
    queued_run.refresh_from_db()
    assert queued_run.status == "queued"
    assert SyncRun.objects.count() == 1


@pytest.mark.integration  # the dashboard reads the queue from Redis
def test_syncer_sees_the_controls(client, syncer, data, queued_run):
    client.force_login(syncer)
    rooms = client.get(reverse("admin:insights_app_room_changelist")).content.decode()
    assert "Sync now" in rooms and "sync_selected_rooms" in rooms
    participants = client.get(reverse("admin:insights_app_participant_changelist")).content.decode()
    assert "fetch_details_for_selected" in participants and "sync_selected_external_ids" in participants
    assert (
        "sync_selected_sessions"
        in client.get(reverse("admin:insights_app_roomsession_changelist")).content.decode()
    )
    dashboard = client.get(reverse(DASHBOARD)).content.decode()
    assert "Start a sync" in dashboard and "insights-cancel" in dashboard
    run_page = client.get(reverse("admin:insights_app_syncrun_change", args=[queued_run.pk])).content.decode()
    assert "Cancel this run" in run_page
    assert client.get(reverse(STATUS)).json()["active"][0]["cancel_url"] == reverse(
        CANCEL, args=[queued_run.pk]
    )


def test_start_and_cancel_refuse_get_and_unknown_kinds(client, syncer, queued_run):
    client.force_login(syncer)
    assert client.get(reverse(START)).status_code == 405
    assert client.get(reverse(CANCEL, args=[queued_run.pk])).status_code == 405
    assert client.post(reverse(START), {"kind": "everything"}).status_code == 400
    assert SyncRun.objects.count() == 1


def test_posts_without_csrf_token_are_refused(syncer, queued_run):
    client = Client(enforce_csrf_checks=True)
    client.force_login(syncer)
    assert client.post(reverse(START), {"kind": "full"}).status_code == 403
    assert client.post(reverse(CANCEL, args=[queued_run.pk])).status_code == 403
    queued_run.refresh_from_db()
    assert queued_run.status == "queued" and SyncRun.objects.count() == 1


def test_admin_index_lists_dashboard_for_viewers(client, viewer):
    client.force_login(viewer)
    index = client.get(reverse("admin:index")).content.decode()
    assert f'href="{reverse(DASHBOARD)}"' in index
    app_index = client.get(reverse("admin:app_list", args=["insights_app"])).content.decode()
    assert "Sync dashboard" in app_index


def test_reports_are_linked_when_mounted(client, viewer, data, settings):
    settings.ROOT_URLCONF = __name__
    client.force_login(viewer)
    index = client.get(reverse("admin:index")).content.decode()
    # Each report is a row of the app's block (an admin entry) that leads to the report itself.
    for name, entry in (
        ("overview", "overviewreport"),
        ("quality", "qualityreport"),
        ("people", "peoplereport"),
    ):
        entry_url = reverse(f"admin:insights_app_{entry}_changelist")
        assert f'href="{entry_url}"' in index
        assert client.get(entry_url)["Location"] == reverse(f"insights_app:{name}")
    room = data.rooms[0]
    page = client.get(reverse("admin:insights_app_room_change", args=[room.pk])).content.decode()
    assert f'href="{reverse("insights_app:room", args=[room.pk])}"' in page
    session = data.sessions[0]
    page = client.get(reverse("admin:insights_app_roomsession_change", args=[session.pk])).content.decode()
    assert f'href="{reverse("insights_app:session", args=[session.pk])}"' in page
    participant = data.participants[1]  # has external id ext-1
    page = client.get(
        reverse("admin:insights_app_participant_change", args=[participant.pk])
    ).content.decode()
    assert f'href="{reverse("insights_app:participant_quality", args=[participant.pk])}"' in page
    assert f'href="{reverse("insights_app:person", args=["ext-1"])}"' in page
    listing = client.get(reverse("admin:insights_app_participant_changelist")).content.decode()
    assert f'href="{reverse("insights_app:quality")}"' in listing


def test_report_links_need_view_reports(client, django_user_model, data, settings):
    from tests.helpers.admin_data import VIEW_PERMS, make_user

    settings.ROOT_URLCONF = __name__
    client.force_login(make_user(django_user_model, "plain", VIEW_PERMS))
    index = client.get(reverse("admin:index")).content.decode()
    assert reverse("insights_app:overview") not in index
    room = data.rooms[0]
    page = client.get(reverse("admin:insights_app_room_change", args=[room.pk])).content.decode()
    assert reverse("insights_app:room", args=[room.pk]) not in page
