"""One clock for the webhooks' decisions between processes (issue 26): a worker whose clock is 15
minutes off neither runs a room sync before the delay (the API would not show the session yet) nor
starves it for 15 minutes, and a pruning process 15 minutes off deletes exactly the presence rows
that are past their day. Due times are Redis's clock, stored times the database's."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from rq import Worker

from insights_app.models import LiveConnection, LiveRoom, SyncRun
from insights_app.simulator.webhooks import sign
from insights_app.sync.clock import db_now
from insights_app.webhooks.presence import KEEP_LEFT, TRUSTED_FOR
from tests.helpers import ROOT, configure, wait_for, worker_env
from tests.helpers.webhooks import SECRET, body_of, event

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason="SQLite has no server clock: each process reads its own, so its processes share one machine",
    ),
]
SKEWS = ["+900s", "-900s"]
# Longer than the coalescing window (a minute): a sync started at the window after it was scheduled,
# as on a clock 15 minutes ahead, starts before the delay is over.
DELAY = timedelta(minutes=2)
# The delivery arrives this long after the session ended: the sync is due 40 s after it (plus up to
# a window), while one started early, at once, would have waited only these 80 s.
SENT_LATE = timedelta(seconds=80)


def _faked(skew: str, args: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
    """``manage.py args`` in a process whose clock is ``skew`` off (libfaketime), the rest real."""
    return subprocess.Popen(
        ["faketime", "-f", skew, sys.executable, "manage.py", *args], cwd=ROOT, env=env, **kwargs
    )


def _stop(process: subprocess.Popen) -> None:
    """End the worker's whole process group: faketime forks the command it runs, and RQ its scheduler."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # children outliving the wrapper


@pytest.mark.parametrize("skew", SKEWS)
def test_a_webhook_room_sync_on_a_worker_15_minutes_off_is_neither_early_nor_starved(
    skew, settings, simulator_factory, redis_url, redis_conn, tmp_path
):
    server = simulator_factory(seed=26, rooms=2, sessions_per_room=2, participants_per_session=1)
    configure(
        settings,
        server,
        WEBHOOK_SECRET=SECRET,
        DETAIL_POLICY="none",
        WEBHOOK_SYNC_DELAY_MINUTES=DELAY.total_seconds() / 60,
    )
    env = worker_env(
        redis_url,
        {
            "INSIGHTS_TEST_SETTINGS_JSON": json.dumps(settings.WHEREBY_INSIGHTS),
            "INSIGHTS_TEST_WORKER_CLASS": "insights_app.worker.InsightsWorker",
        },
    )
    log = (tmp_path / "worker.log").open("wb")
    # The only worker, and so the only scheduler: it applies the event, schedules and starts the sync.
    worker = _faked(
        skew,
        ["rqworker", settings.WHEREBY_INSIGHTS.get("QUEUE", "whereby_insights"), "--with-scheduler"],
        env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(lambda: Worker.all(connection=redis_conn), timeout=60)
        ended = db_now() - SENT_LATE
        body = body_of(
            event("room.session.ended", at=ended, room=server.organisation.room_items()[0]["roomName"])
        )
        response = Client().post(
            reverse("insights_app:whereby_webhook"),
            body,
            content_type="application/json",
            HTTP_WHEREBY_SIGNATURE=sign(SECRET, int(time.time()), body),
        )
        assert response.status_code == 202
        # Starved, it would start 15 minutes late: this wait ends long before.
        run = wait_for(lambda: SyncRun.objects.filter(trigger="webhook").first(), timeout=300)
    finally:
        _stop(worker)
        log.close()
    assert run.kind == "room"
    waited = run.queued_at - ended
    assert waited >= DELAY, f"the room sync started {waited} after the session end, before the delay"
    assert waited < timedelta(minutes=5), f"the room sync started {waited} after the session end"


def _presence(now):
    """Rows a day's pruning keeps (inside their day by 5 minutes) and deletes (past it by 5 minutes)."""
    margin = timedelta(minutes=5)
    ghost_age = TRUSTED_FOR + KEEP_LEFT
    LiveConnection.objects.bulk_create(
        [
            LiveConnection(participant_id="left-keep", room_name="/a", joined_at=now - KEEP_LEFT, left_at=now - KEEP_LEFT + margin),
            LiveConnection(participant_id="left-prune", room_name="/a", joined_at=now - KEEP_LEFT - 2 * margin, left_at=now - KEEP_LEFT - margin),
            LiveConnection(participant_id="ghost-keep", room_name="/b", joined_at=now - ghost_age + margin),
            LiveConnection(participant_id="ghost-prune", room_name="/c", joined_at=now - ghost_age - margin),
        ]
    )  # fmt: skip
    LiveRoom.objects.bulk_create(
        [
            LiveRoom(room_name="/idle-keep", counted_at=now - KEEP_LEFT + margin),
            LiveRoom(room_name="/idle-prune", counted_at=now - KEEP_LEFT - margin),
        ]
    )


@pytest.mark.parametrize("skew", SKEWS)
def test_presence_pruned_by_a_process_15_minutes_off_keeps_exactly_the_rows_inside_their_day(
    skew, settings, redis_url
):
    _presence(db_now())
    env = worker_env(redis_url, {"INSIGHTS_TEST_SETTINGS_JSON": json.dumps(settings.WHEREBY_INSIGHTS)})
    code = "from insights_app.webhooks.prune import prune_webhook_events; prune_webhook_events()"
    pruner = _faked(skew, ["shell", "-c", code], env)
    assert pruner.wait(timeout=120) == 0
    assert set(LiveConnection.objects.values_list("participant_id", flat=True)) == {"left-keep", "ghost-keep"}
    assert set(LiveRoom.objects.values_list("room_name", flat=True)) == {"/idle-keep"}
