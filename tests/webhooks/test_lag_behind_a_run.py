"""A room sync queued behind another run looks at the API later than its window: the lag is not timed
from the window then (it would read short), only bounded from above."""

from __future__ import annotations

from datetime import timedelta

import pytest

from insights_app.models import SyncRun, SyncStatus
from insights_app.webhooks import catchup, schedule

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def conf(settings, redis_conn):
    settings.WHEREBY_INSIGHTS = {"QUEUE": "whereby_insights", "SCHEDULE_INTERVAL_MINUTES": 15}
    return settings


def next_looks(window_due) -> list[catchup.Awaited]:
    """Follow up the window due at ``window_due``; the looks it awaits next (from every later window)."""
    rooms, _late = catchup.follow_up(schedule.stamp(window_due))
    assert rooms == {"/standup"}
    keys = get_keys()
    return [a for key in keys for a in catchup.take_awaited(key.rsplit(":", 1)[1])]


def get_keys() -> list[str]:
    connection = schedule.get_queue().connection
    pattern = schedule._key(catchup.AWAITED, "*")
    return [k.decode() if isinstance(k, bytes) else k for k in connection.scan_iter(pattern)]


@pytest.mark.parametrize("behind", [False, True], ids=["queue-empty", "behind-a-full-sync"])
def test_a_look_behind_another_run_is_not_timed_from_its_window(conf, behind):
    # The end on the events' clock (the database's), the window's due time on Redis's.
    ended = schedule.event_now() - timedelta(minutes=3)
    first = catchup.Awaited("/standup", ended, 1)
    due = schedule.window_end(schedule.now() - timedelta(minutes=1))
    catchup._await(first, due)
    if behind:
        SyncRun.objects.create(kind="full", dedup_key="full", trigger="schedule", status=SyncStatus.RUNNING)

    looks = next_looks(due)

    assert len(looks) == 1 and looks[0].attempt == 2
    assert (looks[0].looked_at is None) is behind
