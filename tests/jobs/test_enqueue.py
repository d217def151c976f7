"""Enqueueing works whatever django-rq commit mode the host site uses, and inside transactions."""

from __future__ import annotations

import pytest
from django.db import transaction
from rq import Queue

from insights_app.conf import get_settings
from insights_app.jobs.backend import fan_out
from insights_app.jobs.enqueue import enqueue_sync
from insights_app.models import SyncRun
from insights_app.sync import RoomWork

# Jobs are enqueued when the transaction commits, as in production: tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)

HOST_MODES = {
    "default (on_db_commit)": {},
    "on_db_commit": {"COMMIT_MODE": "on_db_commit"},
    "request_finished": {"COMMIT_MODE": "request_finished"},
    "legacy AUTOCOMMIT False": {"AUTOCOMMIT": False},
    "auto": {"COMMIT_MODE": "auto"},
}


@pytest.fixture(params=list(HOST_MODES), ids=list(HOST_MODES))
def host_rq(request, settings, redis_conn):
    """The host site's django-rq ``RQ`` setting."""
    settings.RQ = HOST_MODES[request.param]
    settings.WHEREBY_INSIGHTS = {**getattr(settings, "WHEREBY_INSIGHTS", {}), "API_KEY": "k"}
    return settings.RQ


def queued_job_ids(redis_conn) -> list[str]:
    return Queue(get_settings().QUEUE, connection=redis_conn).job_ids


@pytest.mark.filterwarnings("ignore:.*AUTOCOMMIT.*:DeprecationWarning")
def test_enqueue_sync_queues_the_job_whatever_the_hosts_commit_mode(host_rq, redis_conn):
    result = enqueue_sync(kind="full", trigger="command")
    assert result.created
    assert queued_job_ids(redis_conn) == [result.run.job_id]


@pytest.mark.filterwarnings("ignore:.*AUTOCOMMIT.*:DeprecationWarning")
def test_a_sync_started_inside_a_transaction_is_queued_when_it_commits(host_rq, redis_conn):
    with transaction.atomic():
        result = enqueue_sync(kind="full", trigger="admin")
        # A worker must never be handed a run it cannot see yet.
        assert queued_job_ids(redis_conn) == []
    assert queued_job_ids(redis_conn) == [result.run.job_id]
    assert SyncRun.objects.get().status == "queued"


@pytest.mark.filterwarnings("ignore:.*AUTOCOMMIT.*:DeprecationWarning")
def test_a_sync_started_in_a_transaction_that_rolls_back_leaves_nothing(host_rq, redis_conn):
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_sync(kind="full", trigger="admin")
        raise RuntimeError("the host's view failed after starting the sync")
    assert queued_job_ids(redis_conn) == []
    assert not SyncRun.objects.exists()


@pytest.mark.filterwarnings("ignore:.*AUTOCOMMIT.*:DeprecationWarning")
def test_fan_out_queues_every_batch_and_the_closing_job(host_rq, redis_conn):
    # fan_out runs inside a job, where no request ever finishes; a transaction may be open too.
    run = SyncRun.objects.create(kind="full", dedup_key="org", trigger="command", status="running")
    run.assign_job(f"insights-sync-{run.pk}")
    batches = [[RoomWork(i, f"/room-{i}", "sig", refresh=True, force=True)] for i in range(3)]

    with transaction.atomic():
        fan_out(run, batches)

    run.refresh_from_db()
    assert run.batch_job_ids == [f"insights-sync-{run.pk}-batch-{i}" for i in range(3)] + [
        f"insights-sync-{run.pk}-finish"
    ]
    assert queued_job_ids(redis_conn) == run.batch_job_ids[:3]  # the closing job waits on them
