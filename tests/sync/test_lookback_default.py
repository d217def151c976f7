"""The incremental sync's lookback follows the API's data lag: by default ``DATA_LAG_MINUTES`` plus one
schedule interval (docs/budget.md#the-lag); both clocks pinned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db.models import Q

from insights_app.models import RoomSession
from insights_app.sync import InProcess, create_or_get_active_run, execute_run
from tests.helpers import configure

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def sync(kind: str):
    run, created = create_or_get_active_run(kind, trigger="schedule", backend=InProcess())
    assert created
    return execute_run(run.pk, backend=InProcess())


def rooms_held_open(minutes: float) -> set[str]:
    """Rooms with a session ongoing, or ended within the last ``minutes``."""
    recent = NOW - timedelta(minutes=minutes)
    return set(
        RoomSession.objects.filter(Q(ended_at__isnull=True) | Q(ended_at__gte=recent)).values_list(
            "room__room_name", flat=True
        )
    )


def test_the_default_lookback_is_the_data_lag_plus_one_schedule_interval(simulator_factory, settings):
    server = simulator_factory(
        seed=8, rooms=24, sessions_per_room=40, participants_per_session=1, days=2, now=NOW.isoformat()
    )
    # An API whose data is 40 minutes late, synced every 15 minutes: the window must be 55 minutes.
    configure(
        settings,
        server,
        DETAIL_POLICY="none",
        LOOKBACK_MINUTES="auto",
        DATA_LAG_MINUTES=40,
        SCHEDULE_INTERVAL_MINUTES=15,
    )
    with time_machine.travel(NOW, tick=False):
        assert sync("full").status == "succeeded"
        expected = rooms_held_open(40 + 15)
        # Meaningful only if some room has a session that ended 30 to 55 minutes ago.
        assert expected - rooms_held_open(30)
        server.reset_counters()
        assert sync("incremental").status == "succeeded"
    rooms_read = {r.query["roomName"] for r in server.request_log if r.path == "/insights/room-sessions"}
    assert rooms_read == expected
