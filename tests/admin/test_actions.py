"""Admin actions and the dashboard's start/cancel: each queues a real RQ job and links to the run."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from rq import Queue

from insights_app.conf import get_settings
from insights_app.models import Participant, SyncRun

# Jobs are enqueued when the transaction commits, as in production: tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def as_syncer(client, syncer, redis_conn):
    client.force_login(syncer)
    return client


def queued_job_ids(redis_conn) -> list[str]:
    return Queue(get_settings().QUEUE, connection=redis_conn).job_ids


def run_action(client, model: str, action: str, pks: list[int]):
    return client.post(
        reverse(f"admin:insights_app_{model}_changelist"),
        {"action": action, "_selected_action": pks, "index": 0},
        follow=True,
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def assert_linked(response, run: SyncRun) -> None:
    url = reverse("admin:insights_app_syncrun_change", args=[run.pk])
    assert f'href="{url}"' in response.content.decode()


def test_sync_selected_rooms(as_syncer, data, syncer, redis_conn):
    rooms = data.rooms[:2]
    response = run_action(as_syncer, "room", "sync_selected_rooms", [r.pk for r in rooms])
    run = SyncRun.objects.get()
    assert run.kind == "room" and run.trigger == "admin" and run.requested_by == syncer
    assert run.scope["room_names"] == ["/room-0", "/room-1"]
    assert queued_job_ids(redis_conn) == [run.job_id]
    assert_linked(response, run)
    assert any("Queued" in text for text in messages_of(response))


def test_second_click_finds_the_active_run(as_syncer, data, redis_conn):
    run_action(as_syncer, "room", "sync_selected_rooms", [data.rooms[0].pk])
    response = run_action(as_syncer, "room", "sync_selected_rooms", [data.rooms[0].pk])
    run = SyncRun.objects.get()
    assert any("already queued or running" in text for text in messages_of(response))
    assert_linked(response, run)
    assert len(queued_job_ids(redis_conn)) == 1


def test_sync_selected_sessions(as_syncer, data, redis_conn):
    sessions = data.sessions[:3]
    response = run_action(as_syncer, "roomsession", "sync_selected_sessions", [s.pk for s in sessions])
    run = SyncRun.objects.get()
    assert run.kind == "session"
    assert run.scope["room_session_ids"] == sorted(s.room_session_id for s in sessions)
    assert queued_job_ids(redis_conn) == [run.job_id]
    assert_linked(response, run)


def test_fetch_details_for_selected_participants(as_syncer, data, redis_conn):
    chosen = data.participants[:4]
    response = run_action(as_syncer, "participant", "fetch_details_for_selected", [p.pk for p in chosen])
    run = SyncRun.objects.get()
    assert run.kind == "details"
    assert run.scope["participant_ids"] == sorted(p.pk for p in chosen)
    assert queued_job_ids(redis_conn) == [run.job_id]
    assert_linked(response, run)


def test_sync_everything_for_external_ids(as_syncer, data, redis_conn):
    # Two connections with ext-0, one with ext-1, one without: two runs.
    chosen = list(
        Participant.objects.filter(
            participant_id__in=["part-0-0-0", "part-1-0-0", "part-0-0-1", "part-0-0-2"]
        )
    )
    response = run_action(as_syncer, "participant", "sync_selected_external_ids", [p.pk for p in chosen])
    runs = SyncRun.objects.order_by("pk")
    assert [(r.kind, r.scope["external_id"]) for r in runs] == [
        ("external_id", "ext-0"),
        ("external_id", "ext-1"),
    ]
    assert sorted(queued_job_ids(redis_conn)) == sorted(r.job_id for r in runs)
    for run in runs:
        assert_linked(response, run)


def test_external_id_action_without_ids_queues_nothing(as_syncer, data, redis_conn):
    chosen = Participant.objects.get(participant_id="part-0-0-2")  # no external id
    response = run_action(as_syncer, "participant", "sync_selected_external_ids", [chosen.pk])
    assert "None of the selected participants has an external id." in messages_of(response)
    assert SyncRun.objects.count() == 0 and queued_job_ids(redis_conn) == []


@pytest.mark.parametrize("kind", ["incremental", "full"])
def test_dashboard_starts_a_sync(as_syncer, kind, redis_conn):
    response = as_syncer.post(reverse("admin:insights_app_syncrun_start"), {"kind": kind}, follow=True)
    run = SyncRun.objects.get()
    assert run.kind == kind and run.status == "queued"
    assert queued_job_ids(redis_conn) == [run.job_id]
    assert response.redirect_chain[-1][0] == reverse("admin:insights_app_syncrun_dashboard")
    assert_linked(response, run)
    # No worker listens in this test: the page says the run will wait.
    assert any("No worker listens" in text for text in messages_of(response))
    status = as_syncer.get(reverse("admin:insights_app_syncrun_dashboard_status")).json()
    assert [r["id"] for r in status["active"]] == [run.pk]


def test_sync_now_on_the_room_list(as_syncer, data, redis_conn):
    page = as_syncer.get(reverse("admin:insights_app_room_changelist")).content.decode()
    assert f'action="{reverse("admin:insights_app_syncrun_start")}"' in page
    as_syncer.post(reverse("admin:insights_app_syncrun_start"), {"kind": "incremental"})
    assert SyncRun.objects.get().kind == "incremental"


def test_cancel_a_queued_run(as_syncer, redis_conn):
    as_syncer.post(reverse("admin:insights_app_syncrun_start"), {"kind": "full"})
    run = SyncRun.objects.get()
    response = as_syncer.post(reverse("admin:insights_app_syncrun_cancel", args=[run.pk]), follow=True)
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert any("was cancelled" in text for text in messages_of(response))
    again = as_syncer.post(reverse("admin:insights_app_syncrun_cancel", args=[run.pk]), follow=True)
    assert any("already finished" in text for text in messages_of(again))


def test_cancel_a_running_run_asks_it_to_stop(as_syncer, redis_conn):
    run = SyncRun.objects.create(kind="full", status="running", trigger="admin", dedup_key="full")
    next_url = reverse("admin:insights_app_syncrun_change", args=[run.pk])
    response = as_syncer.post(reverse("admin:insights_app_syncrun_cancel", args=[run.pk]), {"next": next_url})
    assert response["Location"] == next_url
    run.refresh_from_db()
    assert run.status == "running" and run.cancel_requested
    # Who asked, for the command or worker running it to say (issue 25).
    user = response.wsgi_request.user.get_username()
    assert run.cancel_requested_by == f"{user} from the admin" and run.cancel_requested_at is not None
    dashboard = as_syncer.get(reverse("admin:insights_app_syncrun_dashboard")).content.decode()
    assert "(stopping)" in dashboard


def test_cancel_redirect_refuses_foreign_next(as_syncer, redis_conn):
    run = SyncRun.objects.create(kind="full", status="queued", trigger="admin", dedup_key="full")
    response = as_syncer.post(
        reverse("admin:insights_app_syncrun_cancel", args=[run.pk]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("admin:insights_app_syncrun_dashboard")


def test_redis_down_queues_nothing_and_says_why(as_syncer, data, settings):
    settings.RQ_QUEUES = {n: {**c, "URL": "redis://127.0.0.1:1/0"} for n, c in settings.RQ_QUEUES.items()}
    response = as_syncer.post(reverse("admin:insights_app_syncrun_start"), {"kind": "full"}, follow=True)
    assert response.status_code == 200
    assert any("Nothing was queued" in text and "Redis" in text for text in messages_of(response))
    response = run_action(as_syncer, "room", "sync_selected_rooms", [data.rooms[0].pk])
    assert any("Nothing was queued" in text for text in messages_of(response))
    assert SyncRun.objects.count() == 0
