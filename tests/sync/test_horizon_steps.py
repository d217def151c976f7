"""A full sync fanned out to real RQ workers fills the newest history first too: every room's last
7 days, then 30, then the rest; the "complete from" mark never runs ahead of the stored rows, and the
steps cost exactly the calls of one process doing the same work."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta

import pytest

from insights_app.jobs.enqueue import cancel_run, enqueue_sync
from insights_app.models import Participant, Room, RoomSession, SyncRun
from insights_app.simulator import FaultConfig
from insights_app.sync import InProcess, create_or_get_active_run, execute_run
from tests.helpers import configure, wait_for
from tests.helpers.org_compare import assert_db_equals_org

pytestmark = pytest.mark.django_db(transaction=True)

PARTICIPANTS = "/insights/participants"
DETAILS = "/insights/participant"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _sessions(org) -> dict[str, datetime]:
    return {
        s["roomSessionId"]: _at(s["startedAt"])
        for r in org.room_items()
        for s in org.session_items(r["roomName"])
    }


def _complete_since(org, started: dict[str, datetime], since: datetime) -> list[str]:
    """Sessions started since ``since`` whose row or participants are not all stored (empty: complete)."""
    wanted = {sid for sid, at in started.items() if at >= since}
    stored = dict(RoomSession.objects.filter(room_session_id__in=wanted).values_list("room_session_id", "pk"))
    missing = sorted(wanted - set(stored))
    for sid, pk in stored.items():
        if Participant.objects.filter(room_session_id=pk).count() != len(org.participant_items(sid)):
            missing.append(sid)
    return missing


def test_a_fanned_out_full_sync_completes_the_last_7_days_first_and_marks_it(
    settings, simulator_factory, rq_worker_factory
):
    server = simulator_factory(seed=41, rooms=8, sessions_per_room=10, participants_per_session=2, days=60)
    server.faults.latency_ms = 40  # the steps take long enough to be watched
    configure(settings, server, FANOUT_MIN_ROOMS=3, FANOUT_ROOMS_PER_JOB=2)
    org = server.organisation
    started = _sessions(org)
    rq_worker_factory(), rq_worker_factory()

    run = enqueue_sync(kind="full", trigger="admin").run
    marks_seen: list[str] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        current = SyncRun.objects.get(pk=run.pk)
        mark = (current.checkpoint or {}).get("complete_from")
        if mark and mark != "all" and mark not in marks_seen:
            # Whenever the mark says "from X", every session since X is stored with its participants.
            assert _complete_since(org, started, datetime.fromisoformat(mark)) == [], mark
            marks_seen.append(mark)
        if current.status not in ("queued", "running"):
            break
        time.sleep(0.02)
    run = SyncRun.objects.get(pk=run.pk)
    assert run.status == "succeeded", (run.error, run.skip_reasons)
    assert run.batch_job_ids and any("-step-0-" in i for i in run.batch_job_ids)
    assert marks_seen, "the 7-day step was never marked while the run went on"
    first = datetime.fromisoformat(marks_seen[0])
    assert timedelta(days=6) < run.started_at - first < timedelta(days=8)  # the last 7 days came first
    assert run.checkpoint["complete_from"] == "all"
    # The estimate was written before the jobs took over (the dashboard's ETA reads it).
    assert run.checkpoint["estimate"]["calls"]["participants"] == len(started)
    assert run.progress_done == run.progress_total == 8
    assert_db_equals_org(org)
    assert Room.objects.filter(full_synced_at__isnull=True).count() == 0

    # Every participants and details call of a newer step came before any of an older step.
    def step(sid: str) -> int:
        age = run.started_at - started[sid]
        return 0 if age <= timedelta(days=7) else 1 if age <= timedelta(days=30) else 2

    for path in (PARTICIPANTS, DETAILS):
        order = [step(r.query["roomSessionId"]) for r in server.request_log if r.path == path]
        assert order == sorted(order) and set(order) == {0, 1, 2}, (path, order)

    # The same calls as one process filling the same (empty) database newest first.
    fanned = Counter(r.path for r in server.request_log)
    Room.objects.all().delete()
    server.reset_counters()
    settings.WHEREBY_INSIGHTS = {**settings.WHEREBY_INSIGHTS, "FANOUT_MIN_ROOMS": 1000}
    alone, created = create_or_get_active_run("full", trigger="command", backend=InProcess())
    assert created
    alone = execute_run(alone.pk, backend=InProcess())
    assert alone.status == "succeeded", alone.skip_reasons
    assert Counter(r.path for r in server.request_log) == fanned
    assert fanned[PARTICIPANTS] == len(started)


def test_a_fanned_out_full_sync_stopped_after_its_first_step_is_resumed_without_reading_it_again(
    settings, simulator_factory, rq_worker_factory
):
    server = simulator_factory(seed=42, rooms=6, sessions_per_room=10, participants_per_session=2, days=60)
    server.faults.latency_ms = 60
    configure(settings, server, FANOUT_MIN_ROOMS=3, FANOUT_ROOMS_PER_JOB=2)
    org = server.organisation
    started = _sessions(org)
    rq_worker_factory()

    first = enqueue_sync(kind="full", trigger="admin").run
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (SyncRun.objects.get(pk=first.pk).checkpoint or {}).get(
        "complete_from"
    ):
        time.sleep(0.02)
    cancel_run(SyncRun.objects.get(pk=first.pk))
    first = wait_for(lambda: SyncRun.objects.filter(pk=first.pk, status="cancelled").first(), timeout=60)
    mark = datetime.fromisoformat(first.checkpoint["complete_from"])
    assert _complete_since(org, started, mark) == []
    recent = {sid for sid, at in started.items() if at >= mark}
    assert recent

    calls_before = len(server.request_log)
    second = enqueue_sync(kind="full", trigger="admin").run
    second = wait_for(
        lambda: SyncRun.objects.exclude(status__in=("queued", "running")).filter(pk=second.pk).first(),
        timeout=120,
    )
    assert second.status == "succeeded", (second.error, second.skip_reasons)
    assert second.checkpoint["resumed_since"] == first.started_at.isoformat()
    assert_db_equals_org(org)
    # The sessions the stopped run had completed (unchanged since) were not read again.
    again = {r.query["roomSessionId"] for r in server.request_log[calls_before:] if r.path == PARTICIPANTS}
    assert again and not (again & recent)


def test_a_fanned_out_step_with_trouble_is_never_marked_complete(
    settings, simulator_factory, rq_worker_factory
):
    server = simulator_factory(seed=43, rooms=6, sessions_per_room=8, participants_per_session=3, days=60)
    server.faults = FaultConfig(
        corrupt_item_rate=0.2, only_paths=[PARTICIPANTS], corrupt_kinds=("no_identity",), seed=5
    )
    configure(settings, server, FANOUT_MIN_ROOMS=3, FANOUT_ROOMS_PER_JOB=2)
    rq_worker_factory()

    run = enqueue_sync(kind="full", trigger="admin").run
    run = wait_for(
        lambda: SyncRun.objects.exclude(status__in=("queued", "running")).filter(pk=run.pk).first(),
        timeout=120,
    )

    assert run.status == "partial" and any("participants" in reason for reason in run.skip_reasons)
    # Some participants were not stored: no step may say its history is complete.
    assert "complete_from" not in run.checkpoint
    assert run.checkpoint["step_trouble"] is True
