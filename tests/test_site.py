"""A site's identity on a shared Redis: its key, the names it gives jobs and keys, W005, the job guard."""

from __future__ import annotations

import pytest
from rq import Queue

from insights_app.site import SITE_META, job_id, redis_key, register_site, site_key
from tests.helpers import configure, wait_for
from tests.helpers.checks import GOOD, ours

pytestmark = pytest.mark.django_db


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_the_default_key_is_stable_and_differs_between_secret_keys_and_databases(settings):
    first = site_key()
    assert site_key() == first and len(first) == 12
    assert settings.SECRET_KEY not in first
    settings.SECRET_KEY = "production-" + "x" * 50
    production = site_key()
    assert production != first
    settings.DATABASES = {
        **settings.DATABASES,
        "default": {**settings.DATABASES["default"], "NAME": "tenant2"},
    }
    assert site_key() not in {first, production}


def test_a_configured_key_wins_and_names_job_ids_and_redis_keys(settings):
    settings.WHEREBY_INSIGHTS = {**GOOD, "SITE_KEY": "staging"}
    assert site_key() == "staging"
    assert job_id("sync-14") == "insights-staging-sync-14"
    assert redis_key("webhooks:rooms:x") == "insights:staging:webhooks:rooms:x"


def test_jobs_queued_before_a_secret_key_rotation_are_still_this_sites(settings):
    from insights_app.site import foreign_site

    class Job:
        meta = {SITE_META: site_key()}

    old = Job()
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "rotated-" + "y" * 50
    assert foreign_site(old) is None
    settings.SECRET_KEY_FALLBACKS = []
    assert foreign_site(old) == old.meta[SITE_META]


def test_w005_names_the_other_site_on_the_queue_and_the_fix(good, redis_conn):
    register_site(redis_conn, "whereby_insights")  # this site: never named
    assert "insights_app.W005" not in ours()
    good.WHEREBY_INSIGHTS = {**GOOD, "SITE_KEY": "production"}
    register_site(redis_conn, "whereby_insights")
    good.WHEREBY_INSIGHTS = {**GOOD, "SITE_KEY": "tenant"}
    register_site(redis_conn, "insights_tenant")  # its own queue: not named
    good.WHEREBY_INSIGHTS = {**GOOD, "SITE_KEY": "staging"}
    [message] = ours()["insights_app.W005"]
    assert "'whereby_insights'" in message.msg and "site production" in message.msg
    assert "tenant" not in message.msg
    assert "This site is staging" in message.msg
    assert "QUEUE" in message.hint and "Redis database" in message.hint


@pytest.mark.django_db(transaction=True)
def test_a_plain_rq_worker_puts_another_sites_job_back_without_running_or_failing_it(
    settings, simulator, redis_conn, rq_worker_factory
):
    """RQ's own worker class: the entry point's guard hands the job back to RQ as a retry."""
    from insights_app.models import SyncRun

    configure(settings, simulator, JOB_RETRY_INTERVALS=[])
    run = SyncRun.objects.create(kind="incremental", dedup_key="org", trigger="admin")
    queue = Queue("whereby_insights", connection=redis_conn)
    job = queue.enqueue("insights_app.jobs.run_sync_job", run.pk, meta={SITE_META: "other-site"})
    worker = rq_worker_factory()

    wait_for(lambda: "was queued by another site" in worker.log(), timeout=60)
    worker.stop()
    job.refresh()
    assert job.get_status() == "queued"
    # On the queue, or in RQ's intermediate queue when the stop came in the instant between the worker
    # taking it again and starting it (RQ's own window, for any job of a plain worker).
    assert job.id in queue.job_ids or job.id in queue.intermediate_queue.get_job_ids()
    assert queue.failed_job_registry.get_job_ids() == []
    assert SyncRun.objects.get(pk=run.pk).status == "queued"  # this site's run 1 was not run for it
    assert "DoesNotExist" not in worker.log()


@pytest.mark.django_db(transaction=True)
def test_a_job_without_a_site_marker_is_run_as_this_sites(settings, simulator, redis_conn, rq_worker_factory):
    """Backwards compatibility: jobs queued by a version before sites carry no marker."""
    from insights_app.models import SyncRun

    configure(settings, simulator)
    run = SyncRun.objects.create(kind="incremental", dedup_key="org", trigger="admin")
    Queue("whereby_insights", connection=redis_conn).enqueue("insights_app.jobs.run_sync_job", run.pk)
    rq_worker_factory({"INSIGHTS_TEST_WORKER_CLASS": "insights_app.worker.InsightsWorker"})
    wait_for(lambda: SyncRun.objects.get(pk=run.pk).status == "succeeded", timeout=90)


def test_the_room_markers_of_two_sites_never_meet(settings, redis_conn):
    from django.utils import timezone

    from insights_app.webhooks import schedule

    settings.WHEREBY_INSIGHTS = {**GOOD, "SITE_KEY": "production"}
    assert schedule.room_sync("/same-room", timezone.now()).startswith("room sync scheduled")
    settings.WHEREBY_INSIGHTS = {**GOOD, "SITE_KEY": "staging"}
    assert schedule.room_sync("/same-room", timezone.now()).startswith("room sync scheduled")
    ids = Queue("whereby_insights", connection=redis_conn).scheduled_job_registry.get_job_ids()
    assert {i.split("-")[1] for i in ids} == {"production", "staging"}


def test_every_scheduled_job_carries_the_site(settings, redis_conn):
    """rqcron's jobs too: on a shared queue only this site's workers run this site's schedule."""
    from django_rq.cron import DjangoCronScheduler

    settings.WHEREBY_INSIGHTS = {
        **GOOD,
        "SITE_KEY": "staging",
        "NIGHTLY_FULL_SYNC_CRON": "0 3 * * *",
        "PERSONAL_DATA_RETENTION_DAYS": 30,
    }
    scheduler = DjangoCronScheduler()
    scheduler.load_config_from_file("insights_app.cron")
    jobs = scheduler.get_jobs()
    assert len(jobs) >= 6
    assert {job.name: job.job_options["meta"] for job in jobs} == {
        job.name: {SITE_META: "staging"} for job in jobs
    }


def test_a_fanned_out_runs_jobs_carry_the_site(settings, redis_conn):
    from rq.job import Job

    from insights_app.jobs.backend import fan_out
    from insights_app.models import SyncRun
    from insights_app.sync.backend import RoomWork

    settings.WHEREBY_INSIGHTS = {**GOOD, "SITE_KEY": "staging"}
    run = SyncRun.objects.create(kind="full", dedup_key="org", trigger="command", status="running")
    fan_out(run, [[RoomWork(i, f"/room-{i}", "sig", refresh=True, force=True)] for i in range(2)])

    run.refresh_from_db()
    assert run.batch_job_ids == [f"insights-staging-sync-{run.pk}-batch-{i}" for i in range(2)] + [
        f"insights-staging-sync-{run.pk}-finish"
    ]
    jobs = Job.fetch_many(run.batch_job_ids, connection=redis_conn)
    assert [job.meta for job in jobs] == [{SITE_META: "staging"}] * 3
