"""A full sync fills the newest history first (the last 7 days complete, then 30, then the rest), and
the reports say from which date the stored history is complete; both clocks pinned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from insights_app.models import SyncRun
from insights_app.sync import InProcess, create_or_get_active_run, execute_run
from tests.helpers import configure
from tests.helpers.org_compare import assert_db_equals_org

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def org_server(simulator_factory, settings, redis_url):
    server = simulator_factory(
        seed=6, rooms=5, sessions_per_room=12, participants_per_session=2, days=60, now=NOW.isoformat()
    )
    configure(settings, server)
    return server


def step_of(server):
    """0 for a session of the last 7 days, 1 for the last 30, 2 for older ones."""
    org = server.organisation
    started = {
        s["roomSessionId"]: datetime.fromisoformat(s["startedAt"].replace("Z", "+00:00"))
        for r in org.room_items()
        for s in org.session_items(r["roomName"])
    }

    def step(session_id: str) -> int:
        age = NOW - started[session_id]
        return 0 if age <= timedelta(days=7) else 1 if age <= timedelta(days=30) else 2

    return step


def full_sync(on_progress=None) -> SyncRun:
    run, created = create_or_get_active_run("full", trigger="command", backend=InProcess())
    assert created
    return execute_run(run.pk, backend=InProcess(), on_progress=on_progress)


def steps_read(server, step, path: str) -> list[int]:
    return [step(r.query["roomSessionId"]) for r in server.request_log if r.path == path]


def test_a_full_sync_reads_the_last_7_days_then_30_then_the_rest(org_server):
    step = step_of(org_server)
    with time_machine.travel(NOW, tick=False):
        run = full_sync()
    assert run.status == "succeeded", run.skip_reasons
    assert_db_equals_org(org_server.organisation)
    for path in ("/insights/participants", "/insights/participant"):
        order = steps_read(org_server, step, path)
        assert order == sorted(order) and set(order) == {0, 1, 2}, (path, order)
    assert run.checkpoint["complete_from"] == "all"


def test_the_reports_say_from_when_history_is_complete_and_the_next_run_resumes(org_server, admin_client):
    step = step_of(org_server)

    def stop_after_the_first_step(run: SyncRun) -> None:
        if run.checkpoint.get("complete_from"):
            run.request_cancel()

    with time_machine.travel(NOW, tick=False):
        stopped = full_sync(stop_after_the_first_step)
        assert stopped.status == "cancelled"
        assert stopped.checkpoint["complete_from"] == (NOW - timedelta(days=7)).isoformat()
        line = admin_client.get(reverse("insights_app:overview")).content.decode()
        assert "history complete from 2026-03-03 (a full sync is filling older history)" in line
        first_steps = steps_read(org_server, step, "/insights/participants")
        assert first_steps and set(first_steps) == {0}
        org_server.reset_counters()
        resumed = full_sync()
        assert resumed.status == "succeeded", resumed.skip_reasons
        assert_db_equals_org(org_server.organisation)
        # The sessions of the last 7 days, read by the stopped run and unchanged since, are not read again.
        assert 0 not in steps_read(org_server, step, "/insights/participants")
        line = admin_client.get(reverse("insights_app:overview")).content.decode()
        assert "history complete from" in line and "filling older history" not in line


def test_sessions_kept_for_a_later_step_are_marked_with_their_items_fingerprint(org_server):
    """Sessions listed in the first step but read in a later one are held by key only and read back
    from the database at their step; each is still marked with its API item's fingerprint (so the
    next run reads none of them again), and one deleted before its step is left out without a fault."""
    from insights_app.models import RoomSession
    from insights_app.sync import horizons
    from insights_app.sync.items import signature

    step = step_of(org_server)
    org = org_server.organisation
    items = {s["roomSessionId"]: s for r in org.room_items() for s in org.session_items(r["roomName"])}
    real_resolved = horizons.NewestFirst._resolved
    seen_later: list[int] = []

    def resolved(self, due):
        due = list(due)
        later = [s.pk for _started, s in due if isinstance(s, horizons.LaterSession)]
        seen_later.extend(later)
        if later and not getattr(self, "_deleted", False):
            self._deleted = True
            RoomSession.objects.filter(pk=later[0]).delete()  # gone between its listing and its step
        return real_resolved(self, iter(due))

    horizons.NewestFirst._resolved = resolved
    try:
        with time_machine.travel(NOW, tick=False):
            run = full_sync()
    finally:
        horizons.NewestFirst._resolved = real_resolved

    assert run.status == "succeeded", run.skip_reasons
    stored = dict(RoomSession.objects.values_list("room_session_id", "participants_synced_signature"))
    later_steps = {sid for sid in items if step(sid) > 0}
    # Older sessions of rooms active this week are listed in the first step and held by key only.
    assert 0 < len(seen_later) <= len(later_steps)
    assert len(stored) == len(items) - 1
    assert all(stored[sid] == signature(items[sid]) for sid in stored)
