"""The sync dashboard tells the truth: who started a run, how long it took, signs of life, dead runs swept."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from insights_app.models import SyncRun
from insights_app.sync.clock import db_now
from tests.helpers import wait_for
from tests.helpers.admin_data import make_user

pytestmark = pytest.mark.django_db

DASHBOARD = "admin:insights_app_syncrun_dashboard"
STATUS = "admin:insights_app_syncrun_dashboard_status"


def make_run(**fields) -> SyncRun:
    """A run as the sync leaves it (``queued_at`` is set on create, so times are written after)."""
    times = {
        k: fields.pop(k) for k in ("queued_at", "started_at", "finished_at", "heartbeat_at") if k in fields
    }
    run = SyncRun.objects.create(
        **{"kind": "incremental", "trigger": "schedule", "dedup_key": "org", **fields}
    )
    if times:
        SyncRun.objects.filter(pk=run.pk).update(**times)
        run.refresh_from_db()
    return run


def row(html: str, run: SyncRun) -> str:
    return re.search(rf'<tr data-run-id="{run.pk}".*?</tr>', html, re.S).group(0)


def text(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment)).strip()


@pytest.fixture
def as_syncer(client, syncer):
    client.force_login(syncer)
    return client


def test_a_run_started_in_the_admin_names_its_user_once_and_no_stale_status(
    as_syncer,
    syncer,
    django_user_model,
    redis_conn,
):
    admin_user = make_user(django_user_model, "admin")
    now = timezone.now()
    by_admin = make_run(
        trigger="admin",
        requested_by=admin_user,
        status="succeeded",
        dedup_key="a",
        started_at=now - timedelta(seconds=1139),
        finished_at=now,
    )
    scheduled = make_run(
        status="failed", dedup_key="b", started_at=now - timedelta(seconds=42), finished_at=now
    )
    html = as_syncer.get(reverse(DASHBOARD)).content.decode()
    assert "admin · admin" not in html
    assert 'class="insights-by">admin</td>' in row(html, by_admin)
    assert 'class="insights-by">schedule</td>' in row(html, scheduled)
    # The status has its own column; the run's name never carries one that can go stale.
    assert f">incremental #{by_admin.pk}</a>" in row(html, by_admin)
    assert "(running)" not in html and "(succeeded)" not in row(html, by_admin)
    # Recent runs show how long they took, in the admin's duration format.
    assert 'class="insights-duration">18 min 59 s</td>' in row(html, by_admin)
    assert 'class="insights-duration">42 s</td>' in row(html, scheduled)
    recent = {r["id"]: r for r in as_syncer.get(reverse(STATUS)).json()["recent"]}
    assert recent[by_admin.pk]["started_by"] == "admin"
    assert recent[by_admin.pk]["label"] == f"incremental #{by_admin.pk}"
    assert recent[by_admin.pk]["duration"] == "18 min 59 s"


def test_figures_are_written_the_same_on_the_page_and_in_the_live_refresh(as_syncer, redis_conn):
    now = timezone.now()
    done = make_run(
        status="succeeded",
        started_at=now - timedelta(minutes=20),
        finished_at=now - timedelta(minutes=12, seconds=5),
        participants_created=12345,
        api_requests=2918,
    )
    html = as_syncer.get(reverse(DASHBOARD)).content.decode()
    health = as_syncer.get(reverse(STATUS)).json()["health"]
    cell = re.search(r'<td id="insights-last-success">(.*?)</td>', html, re.S).group(1)
    link_text = re.search(r"<a [^>]*>(.*?)</a>", cell).group(1)
    assert (
        link_text
        == health["last_success_text"]
        == timezone.localtime(done.finished_at).strftime("%Y-%m-%d %H:%M")
    )
    assert re.fullmatch(r"12 min 0[5-9] s ago", health["age_text"])
    assert "min ago" not in html  # the script no longer writes its own "%s min ago"
    recent = as_syncer.get(reverse(STATUS)).json()["recent"][0]
    assert recent["created_updated_text"] == "12,345 / 0" and recent["api_requests_text"] == "2,918"
    assert "12,345 / 0" in row(html, done) and ">2,918<" in row(html, done)


def test_a_running_run_shows_its_last_sign_of_life_and_a_silent_one_is_flagged(as_syncer, redis_conn):
    now = db_now()  # heartbeats are written with the database's clock
    lively = make_run(
        status="running", dedup_key="a", started_at=now - timedelta(minutes=5), heartbeat_at=now
    )
    silent = make_run(
        status="running",
        dedup_key="b",
        started_at=now - timedelta(minutes=5),
        heartbeat_at=now - timedelta(seconds=100),
    )
    html = as_syncer.get(reverse(DASHBOARD)).content.decode()
    assert "last sign of life 0 s ago" in text(row(html, lively)) or "last sign of life 1 s ago" in text(
        row(html, lively)
    )
    assert "insights-silent" not in row(html, lively)
    assert "insights-silent" in row(html, silent)
    assert re.search(r"last sign of life 1 min 4\d s ago", text(row(html, silent)))
    assert f"Sync run #{silent.pk} has shown no sign of life for 1 min 4" in html
    assert f"Sync run #{lively.pk} has shown" not in html
    active = {r["id"]: r for r in as_syncer.get(reverse(STATUS)).json()["active"]}
    assert active[silent.pk]["silent"] is True and active[lively.pk]["silent"] is False
    assert 99 <= active[silent.pk]["heartbeat_age_seconds"] <= 110
    # Not yet past ABANDONED_AFTER_SECONDS (300): flagged, but still running.
    assert SyncRun.objects.get(pk=silent.pk).status == "running"


def test_the_dashboard_sweeps_a_run_whose_worker_died(as_syncer, redis_conn):
    now = db_now()
    dead = make_run(
        status="running", started_at=now - timedelta(minutes=30), heartbeat_at=now - timedelta(minutes=6)
    )
    status = as_syncer.get(reverse(STATUS)).json()
    assert status["active"] == []
    assert [r["id"] for r in status["recent"]] == [dead.pk]
    assert "abandoned" in status["recent"][0]["error"]
    assert any("just marked failed" in p for p in status["health"]["problems"])
    assert SyncRun.objects.get(pk=dead.pk).status == "failed"


def test_a_queued_run_whose_job_was_deleted_is_recoverable_at_once(
    as_syncer, redis_conn, django_capture_on_commit_callbacks
):
    from insights_app.jobs.enqueue import enqueue_sync
    from insights_app.jobs.queue import get_queue

    with django_capture_on_commit_callbacks(execute=True):
        run = enqueue_sync(kind="incremental", trigger="admin").run
    get_queue().fetch_job(run.job_id).delete()  # what django-rq's "Delete" button does
    # A minute later (the grace for the enqueue after commit), well before ABANDONED_AFTER_SECONDS.
    SyncRun.objects.filter(pk=run.pk).update(queued_at=db_now() - timedelta(seconds=90))
    html = as_syncer.get(reverse(DASHBOARD)).content.decode()
    gone = SyncRun.objects.get(pk=run.pk)
    assert gone.status == "failed" and "gone from the queue" in gone.error
    assert "just marked failed" in html
    assert enqueue_sync(kind="incremental", trigger="admin").created


def test_a_deleted_job_also_frees_its_scope_for_the_next_start(
    redis_conn, django_capture_on_commit_callbacks
):
    from insights_app.jobs.enqueue import enqueue_sync
    from insights_app.jobs.queue import get_queue

    with django_capture_on_commit_callbacks(execute=True):
        run = enqueue_sync(kind="incremental", trigger="admin").run
    get_queue().fetch_job(run.job_id).delete()
    SyncRun.objects.filter(pk=run.pk).update(queued_at=db_now() - timedelta(seconds=90))
    again = enqueue_sync(kind="incremental", trigger="admin")
    assert again.created and again.run.pk != run.pk
    assert SyncRun.objects.get(pk=run.pk).status == "failed"


def test_a_queued_run_whose_job_waits_is_left_alone(
    as_syncer, redis_conn, django_capture_on_commit_callbacks
):
    from insights_app.jobs.enqueue import enqueue_sync

    with django_capture_on_commit_callbacks(execute=True):
        run = enqueue_sync(kind="incremental", trigger="admin").run
    SyncRun.objects.filter(pk=run.pk).update(queued_at=db_now() - timedelta(seconds=90))
    as_syncer.get(reverse(STATUS))
    assert SyncRun.objects.get(pk=run.pk).status == "queued"


def test_run_sync_alone_includes_seeing_sync_runs_but_not_changing_them(
    client, django_user_model, redis_conn
):
    operator = make_user(django_user_model, "operator", ("run_sync",))
    run = make_run(status="succeeded", finished_at=timezone.now())
    client.force_login(operator)
    assert client.get(reverse(DASHBOARD)).status_code == 200
    assert client.get(reverse(STATUS)).status_code == 200
    assert client.get(reverse("admin:insights_app_syncrun_changelist")).status_code == 200
    assert client.get(reverse("admin:insights_app_syncrun_change", args=[run.pk])).status_code == 200
    index = client.get(reverse("admin:index")).content.decode()
    assert "Sync runs" in index and "Sync dashboard" in index
    # Other data stays hidden, and a sync run is never changed or deleted here.
    assert client.get(reverse("admin:insights_app_room_changelist")).status_code == 403
    assert client.post(reverse("admin:insights_app_syncrun_change", args=[run.pk]), {}).status_code == 403
    assert (
        client.post(reverse("admin:insights_app_syncrun_delete", args=[run.pk]), {"post": "yes"}).status_code
        == 403
    )
    nobody = make_user(django_user_model, "nobody")
    client.force_login(nobody)
    assert client.get(reverse(DASHBOARD)).status_code == 403
    assert client.get(reverse("admin:insights_app_syncrun_changelist")).status_code == 403


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_after_kill_9_the_dashboard_flags_the_silent_worker_and_sweeps_the_run(
    client,
    syncer,
    settings,
    simulator_factory,
    rq_worker_factory,
    monkeypatch,
):
    from insights_app.jobs import health
    from insights_app.jobs.enqueue import enqueue_sync
    from insights_app.models import Participant
    from insights_app.simulator import FaultConfig
    from tests.helpers import configure

    server = simulator_factory(seed=23, rooms=5, sessions_per_room=4, participants_per_session=3)
    configure(settings, server, ABANDONED_AFTER_SECONDS=8)
    server.faults = FaultConfig(latency_ms=150)
    # A busy rq worker reports every 30 s; a test cannot wait for the real threshold.
    monkeypatch.setattr(health, "BUSY_WORKER_SILENT_AFTER", timedelta(seconds=2))
    worker = rq_worker_factory()
    run = enqueue_sync(kind="full", trigger="admin").run
    wait_for(lambda: Participant.objects.exists(), timeout=60)
    worker.kill()
    client.force_login(syncer)

    def flagged():
        status = client.get(reverse(STATUS)).json()
        return status if any("may have died" in p for p in status["health"]["problems"]) else None

    status = wait_for(flagged, timeout=30, interval=0.5)
    assert SyncRun.objects.get(pk=run.pk).status in ("running", "failed")

    def swept():
        client.get(reverse(STATUS))
        return SyncRun.objects.get(pk=run.pk).status == "failed"

    wait_for(swept, timeout=30, interval=0.5)  # nobody started another sync: the dashboard swept it
    assert "abandoned" in SyncRun.objects.get(pk=run.pk).error
    assert status["health"]["workers"][0]["looks_dead"] is True
