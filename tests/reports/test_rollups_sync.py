"""Real syncs over HTTP (full, then incremental after ongoing sessions ended and totals changed) keep the
rollups equal to the raw rows, in a quarter-hour time zone."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from insights_app.models import RoomSession
from insights_app.rollups.marks import rollups_usable
from insights_app.rollups.rebuild import rebuild
from tests.helpers import configure, run_sync
from tests.helpers.rollup_data import assert_same, figures, period_of, raw_figures

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rollups_on")]


def _assert_exact() -> None:
    assert rollups_usable()
    today = timezone.localdate()
    for first, last in ((today - dt.timedelta(days=12), today), (today - dt.timedelta(days=1), today)):
        filters = period_of(first, last)
        assert_same(figures(filters), raw_figures(filters), str(filters.period))
    call_command("insights_rollup", "--check", "--all")  # SystemExit(1) on any difference


def test_full_then_incremental_syncs_keep_the_rollups_exact(settings, simulator_factory):
    server = simulator_factory(
        seed=6, rooms=4, sessions_per_room=12, participants_per_session=3, live=True, days=10
    )
    org = server.organisation
    # Through the settings fixture, as configure() is: overrides undone in the order they were made.
    settings.TIME_ZONE = "Asia/Kathmandu"
    configure(settings, server, ROLLUPS=True)
    with time_machine.travel(org.now, tick=True) as clock, timezone.override("Asia/Kathmandu"):
        assert rebuild()
        for _ in range(48):  # to an hour when some sessions are going on
            if any(s["endedAt"] is None for r in org.room_items() for s in org.session_items(r["roomName"])):
                break
            org.advance(3600)
            clock.move_to(org.now)
        assert run_sync("full").status == "succeeded"
        ongoing = set(RoomSession.objects.filter(ended_at__isnull=True).values_list("pk", flat=True))
        _assert_exact()

        org.advance(4 * 3600)  # the ongoing sessions end (3 h at most), new ones start
        clock.move_to(org.now)
        assert run_sync("incremental").status == "succeeded"
        assert RoomSession.objects.filter(
            pk__in=ongoing, ended_at__isnull=False
        ).exists()  # ongoing ones ended
        _assert_exact()
