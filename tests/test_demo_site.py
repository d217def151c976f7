"""The demo site's own settings and URLs: database connections, django-rq's pages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from tests.helpers.admin_data import make_user

ROOT = Path(__file__).resolve().parent.parent
READ_DB = "import project.settings as s; d = s.DATABASES['default']; print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])"


def demo_settings(**env: str) -> subprocess.CompletedProcess:
    """Import project/settings.py in a fresh interpreter with the given environment."""
    clean = {k: v for k, v in os.environ.items() if k not in {"CONN_MAX_AGE", "DATABASE_URL"}}
    return subprocess.run(
        [sys.executable, "-c", READ_DB],
        env={**clean, "DEBUG": "true", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.integration  # starts the demo site's settings in a subprocess
def test_connections_are_not_kept_open_by_default():
    """Under runserver (a thread per request) a kept connection is a leaked one: 44 idle in the demo."""
    result = demo_settings(DATABASE_URL="postgres://demo@127.0.0.1:5432/demo")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "False"]


@pytest.mark.integration  # starts the demo site's settings in a subprocess
def test_a_deployment_can_keep_connections_with_health_checks():
    result = demo_settings(DATABASE_URL="postgres://demo@127.0.0.1:5432/demo", CONN_MAX_AGE="60")
    assert result.stdout.split() == ["60", "True"], result.stderr


@pytest.mark.integration  # starts the demo site's settings in a subprocess
@pytest.mark.parametrize("bad", ["sixty", "-1", "1.5"])
def test_a_bad_conn_max_age_is_refused_by_name(bad):
    result = demo_settings(DATABASE_URL="postgres://demo@127.0.0.1:5432/demo", CONN_MAX_AGE=bad)
    assert result.returncode != 0
    assert "CONN_MAX_AGE must be a whole number of seconds" in result.stderr
    assert bad in result.stderr


@pytest.mark.django_db
def test_django_rq_pages_are_for_superusers_only(client, django_user_model, redis_conn):
    from rq import Queue

    from insights_app.jobs.queue import get_queue

    queue = Queue(get_queue().name, connection=get_queue().connection)  # plain rq: no wait for a commit
    job = queue.enqueue("math.floor", 1.5)
    home = reverse("django_rq:home")
    delete = reverse("django_rq:delete_job", args=[0, job.id])
    assert client.get(home).status_code == 302  # to the login page
    staff = make_user(
        django_user_model,
        "staff",
        ("view_syncrun", "run_sync", "view_room", "view_participant", "view_reports"),
    )
    client.force_login(staff)
    assert client.get(home).status_code == 403
    assert client.post(delete).status_code == 403
    assert queue.fetch_job(job.id) is not None  # the job is still there
    assert client.get("/admin/django_rq/dashboard/").status_code == 404  # not mounted in the admin either
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw-123456")
    client.force_login(root)
    assert client.get(home).status_code == 200
