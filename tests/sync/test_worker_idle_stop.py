"""An idle worker stops on the first SIGTERM, in seconds (issue 25: "needed a second SIGTERM, 60 s later")."""

from __future__ import annotations

import signal
import time

import pytest
from rq.worker import Worker, WorkerStatus

from insights_app.jobs.enqueue import enqueue_sync
from insights_app.jobs.queue import get_queue
from insights_app.models import SyncRun
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# Seconds a stop may take: RQ's scheduler process, stopped and joined by the worker, sleeps 1 s a loop.
STOP_WITHIN = 5.0


def idle_worker_count() -> int:
    workers = Worker.all(connection=get_queue().connection)
    return sum(1 for worker in workers if worker.get_state() == WorkerStatus.IDLE)


@pytest.mark.parametrize("worker_class", ["insights_app.worker.InsightsWorker", "rq.worker.Worker"])
@pytest.mark.parametrize("after_a_job", [False, True])
def test_an_idle_worker_stops_on_one_sigterm_within_seconds(
    whereby_settings, rq_worker_factory, worker_class, after_a_job
):
    worker = rq_worker_factory({"INSIGHTS_TEST_WORKER_CLASS": worker_class})
    wait_for(lambda: idle_worker_count() == 1, 60)
    if after_a_job:
        run = enqueue_sync(kind="full", trigger="command").run
        wait_for(lambda: SyncRun.objects.get(pk=run.pk).status == "succeeded", 120)
        wait_for(lambda: idle_worker_count() == 1, 30)
    time.sleep(1.5)  # well inside its blocking wait for a job (RQ waits up to worker_ttl - 15 s)

    started = time.monotonic()
    worker.process.send_signal(signal.SIGTERM)  # to the worker alone, as a service manager does
    try:
        worker.process.wait(timeout=60)
    except Exception:
        pytest.fail(f"the idle worker did not stop within 60 s of one SIGTERM:\n{worker.log()[-3000:]}")
    took = time.monotonic() - started
    assert took < STOP_WITHIN, f"stopping took {took:.1f} s\n{worker.log()[-3000:]}"
    assert worker.process.returncode == 0, worker.log()[-3000:]
