"""Two sites (two databases) on one Redis database and the default queue name, with real rqworkers."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from rq import Queue

from insights_app.jobs.enqueue import enqueue_sync
from insights_app.models import SyncRun
from insights_app.site import site_key
from tests.helpers import ROOT, configure, worker_env

pytestmark = pytest.mark.django_db(transaction=True)


def site_b_env(redis_url: str, tmp_path) -> dict[str, str]:
    """Site B: the same code and settings, its own SQLite database (and so its own site key)."""
    env = worker_env(redis_url, {"INSIGHTS_TEST_SETTINGS_JSON": json.dumps(django_settings.WHEREBY_INSIGHTS)})
    env.pop("INSIGHTS_TEST_DB_NAME")
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'site-b.sqlite3'}"
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``manage.py`` of one site, its output kept."""
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def burst_worker(env: dict[str, str], queue: str) -> subprocess.CompletedProcess:
    """A real worker of one site, run until its queue holds nothing it may run."""
    env = {**env, "INSIGHTS_TEST_WORKER_CLASS": "insights_app.worker.InsightsWorker"}
    return manage(env, "rqworker", queue, "--burst", "--with-scheduler")


def site_b(env: dict[str, str], code: str) -> object:
    """What ``code`` (Python ending in an expression) gives in a process of site B, through JSON."""
    *body, last = code.strip().splitlines()
    script = "\n".join(
        ["import json", "from insights_app.models import SyncRun", *body, f"print(json.dumps({last}))"]
    )
    out = manage(env, "shell", "--no-imports", "-c", script)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def site_b_status(env: dict[str, str], run_id: int) -> str:
    """The status of site B's run ``run_id``, read by a process of site B."""
    return str(site_b(env, f"SyncRun.objects.get(pk={run_id}).status"))


def test_two_sites_on_one_queue_each_run_their_own_sync(settings, simulator, redis_conn, redis_url, tmp_path):
    configure(settings, simulator)
    queue_name = settings.WHEREBY_INSIGHTS["QUEUE"]
    env_b = site_b_env(redis_url, tmp_path)
    migrated = manage(env_b, "migrate", "--no-input")
    assert migrated.returncode == 0, migrated.stderr[-2000:]

    run_a = enqueue_sync(kind="full", trigger="admin").run
    # Site B's next run gets the same id as site A's: the case where one site could run the other's.
    site_b(
        env_b,
        f"SyncRun.objects.bulk_create([SyncRun(kind='incremental', dedup_key=f'old-{{i}}', trigger='admin', "
        f"status='succeeded') for i in range({run_a.pk - 1})])\nSyncRun.objects.count()",
    )
    queued_b = manage(env_b, "insights_sync", "--full", "--enqueue")
    assert queued_b.returncode == 0, queued_b.stderr[-2000:]
    run_b_id = site_b(env_b, "SyncRun.objects.get(status='queued').pk")
    assert run_b_id == run_a.pk
    assert len(set(Queue(queue_name, connection=redis_conn).job_ids)) == 2  # neither job replaced the other

    # Site B's check names the queue both use, and how to part them, before anything runs.
    checked = manage(env_b, "check", "--tag", "insights_app")
    assert "insights_app.W005" in checked.stderr + checked.stdout
    assert f"Another site uses the queue '{queue_name}'" in checked.stderr + checked.stdout
    assert site_key() in checked.stderr + checked.stdout  # site A, by its key

    # Site A's worker runs first: it puts B's job back, runs A's, and stops.
    env_a = worker_env(redis_url, {"INSIGHTS_TEST_SETTINGS_JSON": json.dumps(settings.WHEREBY_INSIGHTS)})
    worker_a = burst_worker(env_a, queue_name)
    assert worker_a.returncode == 0, worker_a.stderr[-3000:]
    assert "was queued by another site" in worker_a.stderr + worker_a.stdout
    run_a = SyncRun.objects.get(pk=run_a.pk)
    assert run_a.status == "succeeded", run_a.error
    assert site_b_status(env_b, run_b_id) == "queued"  # untouched by A's worker

    worker_b = burst_worker(env_b, queue_name)
    assert worker_b.returncode == 0, worker_b.stderr[-3000:]
    assert site_b_status(env_b, run_b_id) == "succeeded"
    assert SyncRun.objects.get(pk=run_a.pk).status == "succeeded"
    queue = Queue(queue_name, connection=redis_conn)
    assert queue.failed_job_registry.get_job_ids() == [] and queue.job_ids == []
