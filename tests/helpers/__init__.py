"""Helpers shared by the test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection

from insights_app.models import SyncRun
from insights_app.sync import InProcess, create_or_get_active_run, execute_run

ROOT = Path(__file__).resolve().parent.parent.parent
TEST_API_KEY = "sim-test-key-7f3a9c1e5b"


def worker_env(redis_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a subprocess that must see the test database and the test Redis."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "REDIS_URL": redis_url,
            "INSIGHTS_TEST_DB_NAME": str(connection.settings_dict["NAME"]),
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra or {})
    return env


def wait_for(predicate: Callable[[], object], timeout: float = 60.0, interval: float = 0.2) -> object:
    """Poll until ``predicate()`` is truthy; fail the test with a clear message otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s: {getattr(predicate, '__name__', predicate)}")


ROOMS, SESSIONS, PARTICIPANTS, DETAIL = (
    "/insights/rooms",
    "/insights/room-sessions",
    "/insights/participants",
    "/insights/participant",
)


def configure(settings, server, **extra):
    settings.WHEREBY_INSIGHTS = {
        "API_KEY": TEST_API_KEY,
        "BASE_URL": server.base_url,
        "QUEUE": "whereby_insights",
        "BACKOFF_BASE": 0.01,
        "BACKOFF_MAX": 0.05,
        "RATE_BUDGET_POINTS_PER_MINUTE": 1_000_000,
        "PLAN_POINTS_PER_MINUTE": 1_000_000,
        "LOOKBACK_MINUTES": 0,
        "DETAIL_POLICY": "all",
        **extra,
    }


def run_sync(kind="incremental", **scope):
    details = scope.pop("details", None)
    run, created = create_or_get_active_run(
        kind, trigger="command", scope=scope, details=details, backend=InProcess()
    )
    assert created
    try:
        return execute_run(run.pk, backend=InProcess())
    except Exception:
        return SyncRun.objects.get(pk=run.pk)
