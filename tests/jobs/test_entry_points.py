"""Syncs through real Redis and real rqworker subprocesses: queueing, fan-out, kills, cancels, cron."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from insights_app.jobs import scheduled_sync
from insights_app.jobs.enqueue import cancel_run, enqueue_sync
from insights_app.jobs.queue import QueueUnavailable
from insights_app.models import Participant, ParticipantDetail, Room, RoomSession, SyncRun
from insights_app.simulator import FaultConfig
from insights_app.site import job_id
from insights_app.sync.clock import db_now, redis_now
from tests.helpers import TEST_API_KEY, configure, wait_for
from tests.helpers.org_compare import assert_db_equals_org

pytestmark = pytest.mark.django_db(transaction=True)


def finished(run_id):
    def check():
        run = SyncRun.objects.get(pk=run_id)
        return run if run.status not in ("queued", "running") else None

    check.__name__ = f"sync run {run_id} finished"
    return check


def test_a_queued_sync_is_run_by_a_real_worker(settings, simulator_factory, rq_worker_factory):
    server = simulator_factory(seed=21, rooms=4, sessions_per_room=3, participants_per_session=3)
    configure(settings, server)
    worker = rq_worker_factory()

    result = enqueue_sync(kind="full", trigger="admin")

    assert result.created and result.run.status == "queued"
    assert result.run.job_id == job_id(f"sync-{result.run.pk}")
    run = wait_for(finished(result.run.pk), timeout=90)
    assert run.status == "succeeded", (run.error, run.skip_reasons, worker.log()[-2000:])
    assert run.started_at and run.finished_at and run.trigger == "admin"
    assert_db_equals_org(server.organisation)
    assert TEST_API_KEY not in worker.log()


def test_two_triggers_at_once_make_one_run(settings, simulator, redis_conn):
    configure(settings, simulator)
    results = []
    barrier = threading.Barrier(4)

    def trigger():
        barrier.wait()
        try:
            results.append(enqueue_sync(kind="incremental", trigger="admin"))
        finally:
            connection.close()

    threads = [threading.Thread(target=trigger) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len({r.run.pk for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert SyncRun.objects.count() == 1
    assert redis_conn.llen("rq:queue:whereby_insights") == 1


def test_a_large_sync_fans_out_to_several_workers_and_closes_once(
    settings, simulator_factory, rq_worker_factory
):
    server = simulator_factory(seed=22, rooms=9, sessions_per_room=3, participants_per_session=2)
    configure(settings, server, FANOUT_MIN_ROOMS=3, FANOUT_ROOMS_PER_JOB=2)
    workers = [rq_worker_factory(), rq_worker_factory()]

    # A first incremental sync refreshes every room (a full one goes by steps: test_horizon_steps).
    result = enqueue_sync(kind="incremental", trigger="command")

    run = wait_for(finished(result.run.pk), timeout=120)
    assert run.status == "succeeded", (run.error, run.skip_reasons, workers[0].log()[-3000:])
    assert len(run.batch_job_ids) == 5 + 1  # five batches and the job that closes the run
    assert run.progress_done == run.progress_total == 9
    assert_db_equals_org(server.organisation)
    assert run.participants_created == Participant.objects.count()


def test_a_worker_killed_mid_sync_is_detected_and_the_next_run_completes(
    settings, simulator_factory, rq_worker_factory
):
    server = simulator_factory(seed=23, rooms=5, sessions_per_room=4, participants_per_session=3)
    configure(settings, server, ABANDONED_AFTER_SECONDS=3)
    server.faults = FaultConfig(latency_ms=150)
    worker = rq_worker_factory()
    first = enqueue_sync(kind="full", trigger="admin").run

    wait_for(lambda: Participant.objects.exists(), timeout=60)
    worker.kill()
    assert SyncRun.objects.get(pk=first.pk).status == "running"

    def abandoned():
        # A new trigger sweeps for abandoned runs first; until then it is handed the stuck one.
        attempt = enqueue_sync(kind="full", trigger="admin")
        return attempt if attempt.created else None

    second = wait_for(abandoned, timeout=30, interval=1.0).run
    dead = SyncRun.objects.get(pk=first.pk)
    assert dead.status == "failed"
    assert "abandoned" in dead.error
    server.faults = FaultConfig()
    rq_worker_factory()
    done = wait_for(finished(second.pk), timeout=90)
    assert done.status == "succeeded", (done.error, done.skip_reasons)
    assert_db_equals_org(server.organisation)
    assert Participant.objects.count() == sum(
        len(server.organisation.participant_items(s["roomSessionId"]))
        for r in server.organisation.room_items()
        for s in server.organisation.session_items(r["roomName"])
    )


def test_cancelling_a_running_sync_stops_it_at_the_next_page(settings, simulator_factory, rq_worker_factory):
    server = simulator_factory(seed=24, rooms=6, sessions_per_room=4, participants_per_session=3)
    configure(settings, server)
    server.faults = FaultConfig(latency_ms=150)
    rq_worker_factory()
    run = enqueue_sync(kind="full", trigger="admin").run
    wait_for(lambda: SyncRun.objects.get(pk=run.pk).status == "running", timeout=60)

    cancel_run(SyncRun.objects.get(pk=run.pk))

    done = wait_for(finished(run.pk), timeout=60)
    assert done.status == "cancelled"
    assert (
        RoomSession.objects.count()
        < sum(len(server.organisation.session_items(r["roomName"])) for r in server.organisation.room_items())
        or ParticipantDetail.objects.count() == 0
    )


def test_cancelling_a_queued_sync_cancels_it_at_once(settings, simulator, redis_conn):
    configure(settings, simulator)
    run = enqueue_sync(kind="incremental", trigger="admin").run

    cancelled = cancel_run(run)

    assert cancelled.status == "cancelled" and cancelled.finished_at is not None
    assert enqueue_sync(kind="incremental", trigger="admin").created


def test_redis_down_means_a_clear_error_and_nothing_queued(settings, simulator):
    configure(settings, simulator)
    settings.RQ_QUEUES = {**settings.RQ_QUEUES, "whereby_insights": {"URL": "redis://127.0.0.1:1/0"}}

    with pytest.raises(QueueUnavailable, match="Redis does not answer"):
        enqueue_sync(kind="incremental", trigger="admin")
    assert not SyncRun.objects.exists()


def test_a_schedule_tick_while_a_sync_runs_starts_nothing_new(settings, simulator, redis_conn):
    configure(settings, simulator)
    running = enqueue_sync(kind="full", trigger="admin").run
    SyncRun.objects.filter(pk=running.pk).update(status="running")

    assert scheduled_sync("incremental") == running.pk
    assert SyncRun.objects.count() == 1


def test_the_cron_module_registers_the_schedule(settings, redis_conn):
    from django_rq.cron import DjangoCronScheduler

    settings.WHEREBY_INSIGHTS = {"SCHEDULE_INTERVAL_MINUTES": 5, "NIGHTLY_FULL_SYNC_CRON": "0 3 * * *"}
    scheduler = DjangoCronScheduler()
    scheduler.load_config_from_file("insights_app.cron")
    jobs = {job.name: job for job in scheduler.get_jobs()}

    assert set(jobs) == {
        "insights-incremental-sync",
        "insights-reap-abandoned",
        "insights-nightly-full-sync",
        "insights-alerts",
    }
    assert jobs["insights-incremental-sync"].interval == 300
    assert jobs["insights-nightly-full-sync"].cron == "0 3 * * *"
    assert all(job.queue_name == "whereby_insights" for job in jobs.values())


def test_rows_stay_unique_whatever_happens(settings, simulator_factory, rq_worker_factory):
    server = simulator_factory(seed=25, rooms=3, sessions_per_room=2, participants_per_session=2)
    configure(settings, server)
    rq_worker_factory()
    for kind in ("full", "incremental", "full"):
        run = enqueue_sync(kind=kind, trigger="admin").run
        assert wait_for(finished(run.pk), timeout=60).status == "succeeded"
    assert Room.objects.count() == 3
    assert (
        Participant.objects.values("room_session", "participant_id").distinct().count()
        == Participant.objects.count()
    )


def test_a_run_that_fails_on_a_transient_outage_is_retried_by_rq(
    settings, simulator_factory, rq_worker_factory
):
    server = simulator_factory(seed=26, rooms=2, sessions_per_room=2, participants_per_session=2)
    # The rooms listing fails more often than the client retries: the first attempt of the job fails.
    configure(settings, server, MAX_RETRIES=1, JOB_RETRY_INTERVALS=[1])
    server.faults = FaultConfig(fail_first_n=2, only_paths=["/insights/rooms"])
    # The documented InsightsWorker: its scheduler reads Redis's clock, and so do its retries' due
    # times (RQ's own are the host's: under a shifted host clock the retry would wait that long).
    worker = rq_worker_factory()

    run = enqueue_sync(kind="full", trigger="admin").run

    done = wait_for(finished(run.pk), timeout=90)
    assert done.status == "succeeded", (done.error, worker.log()[-2000:])
    assert done.error == ""
    assert server.counters["/insights/rooms"] == 3
    assert "retry" in worker.log().lower()
    assert_db_equals_org(server.organisation)


def test_a_retry_no_scheduler_will_ever_run_does_not_block_syncs_for_ever(settings, simulator, redis_conn):
    from datetime import timedelta

    from rq.registry import ScheduledJobRegistry

    from insights_app.jobs.liveness import job_alive
    from insights_app.jobs.queue import get_queue

    configure(settings, simulator, ABANDONED_AFTER_SECONDS=60)
    run = enqueue_sync(kind="incremental", trigger="schedule").run
    queue = get_queue()
    job = queue.fetch_job(run.job_id)
    SyncRun.objects.filter(pk=run.pk).update(queued_at=db_now() - timedelta(hours=1))
    run.refresh_from_db()

    # RQ keeps a retry's due time in Redis: the shared clock is Redis's, not this host's.
    queue.schedule_job(job, redis_now(queue.connection) + timedelta(seconds=30))  # a retry, due soon
    assert job_alive(run)
    overdue = redis_now(queue.connection) - timedelta(minutes=10)
    ScheduledJobRegistry(queue=queue).schedule(job, overdue)  # long overdue
    assert not job_alive(run)
    assert enqueue_sync(kind="incremental", trigger="schedule").created
    assert SyncRun.objects.get(pk=run.pk).status == "failed"


def test_cancelling_a_run_stuck_in_a_throttle_storm_stops_it_without_waiting_it_out(
    settings, simulator_factory, rq_worker_factory
):
    server = simulator_factory(seed=27, rooms=2, sessions_per_room=1, participants_per_session=1)
    # Every call is throttled for 30 s, twenty times over: ten minutes unless the cancel interrupts.
    configure(settings, server, MAX_RETRY_WAIT=30)
    server.faults = FaultConfig(force_throttle=1000, throttle_ms=30_000, throttle_hints="ms-left")
    rq_worker_factory()
    run = enqueue_sync(kind="incremental", trigger="admin").run
    wait_for(lambda: server.counters["/insights/rooms"] >= 1, timeout=60)

    cancel_run(SyncRun.objects.get(pk=run.pk))

    done = wait_for(finished(run.pk), timeout=20)
    assert done.status == "cancelled"
    assert server.counters["/insights/rooms"] == 1


def test_a_fanned_out_run_whose_batches_are_dead_is_not_kept_alive_by_its_closing_job(
    settings, simulator, redis_conn
):
    from datetime import timedelta

    from rq.job import Dependency

    from insights_app.jobs import finish_run_job, run_batch_job
    from insights_app.jobs.liveness import job_alive
    from insights_app.jobs.queue import get_queue

    configure(settings, simulator, ABANDONED_AFTER_SECONDS=60)
    queue = get_queue()
    run = SyncRun.objects.create(
        kind="full", dedup_key="org", trigger="schedule", status="running", job_id="insights-sync-x"
    )
    batch = queue.enqueue_call(run_batch_job, args=(run.pk, []), job_id="insights-sync-x-batch-0")
    finish = queue.enqueue_call(
        finish_run_job,
        args=(run.pk,),
        job_id="insights-sync-x-finish",
        depends_on=Dependency(jobs=[batch], allow_failure=True),
    )
    SyncRun.objects.filter(pk=run.pk).update(batch_job_ids=[batch.id, finish.id])
    run.refresh_from_db()
    assert finish.get_status() == "deferred"
    assert job_alive(run)  # the batch waits in the queue

    # The batch was retried after a crash, but no worker runs the scheduler: it will never run.
    queue.remove(batch)
    overdue = redis_now(queue.connection) - timedelta(minutes=10)
    queue.schedule_job(batch, overdue)  # as rq's retry does, long overdue
    assert batch.get_status() == "scheduled"
    assert not job_alive(run)


# RQ stores a queued job's function as a dotted path: jobs queued before an upgrade name these.
ENTRY_POINTS = (
    "run_sync_job",
    "run_batch_job",
    "run_step_job",
    "mark_step_job",
    "finish_run_job",
    "scheduled_sync",
    "reap_abandoned_runs_job",
)


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_every_entry_point_is_stored_by_and_found_at_its_old_dotted_path(name, redis_conn):
    from rq.job import Job
    from rq.utils import import_attribute

    func = import_attribute(f"insights_app.jobs.{name}")
    # What a job enqueued today stores, so a later move must keep it importable too.
    assert Job.create(func, connection=redis_conn).func_name == f"insights_app.jobs.{name}"


def test_a_job_queued_by_the_old_dotted_path_is_run_by_a_real_worker(settings, simulator, rq_worker_factory):
    from insights_app.jobs.queue import get_queue

    configure(settings, simulator)
    worker = rq_worker_factory()
    # As a job queued by an earlier version sits in Redis: the function named by its old path.
    job = get_queue().enqueue("insights_app.jobs.scheduled_sync", kind="incremental")

    run = wait_for(lambda: SyncRun.objects.filter(trigger="schedule").first(), timeout=60)
    run = wait_for(finished(run.pk), timeout=90)
    assert run.status == "succeeded", (run.error, worker.log()[-2000:])
    assert job.get_status(refresh=True) == "finished"
    assert job.return_value() == run.pk
    assert Room.objects.count() == 3  # the simulator fixture's organisation
