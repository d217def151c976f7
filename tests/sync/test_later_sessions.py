"""Sessions waiting for a later newest-first step are kept as numbers and handed out newest first,
with their start to the microsecond (no database, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from insights_app.sync.later_sessions import DueSessions, LaterSession, SessionQueue
from insights_app.sync.stages import SessionRef

NOW = datetime(2026, 3, 10, 12, 0, 0, 123457, tzinfo=UTC)
WEEK = NOW - timedelta(days=7)
MONTH = NOW - timedelta(days=30)


def ref(pk: int, started: datetime | None, *, is_new: bool = False) -> tuple[datetime | None, SessionRef]:
    return started, SessionRef(pk, f"s{pk}", "sig", 1, is_new, None, started)


def test_a_queue_holds_this_steps_sessions_as_refs_and_later_ones_as_keys_until_their_step():
    listed = [
        ref(1, NOW - timedelta(days=1)),
        ref(2, NOW - timedelta(days=10, microseconds=1), is_new=True),
        ref(3, None),
        ref(4, NOW - timedelta(days=40)),
    ]
    queue = SessionQueue(listed, WEEK)
    assert len(queue) == 4
    assert [item[1] for item in queue][1:] == [
        LaterSession(2, True),
        LaterSession(3, False),
        LaterSession(4, False),
    ]

    first = DueSessions()
    queue.take(WEEK, into=first)
    assert [started for started, _s in first.newest_first()] == [NOW - timedelta(days=1)]
    second = DueSessions()
    queue.take(MONTH, into=second)
    assert list(second.newest_first()) == [(NOW - timedelta(days=10, microseconds=1), LaterSession(2, True))]
    rest = DueSessions()
    queue.take(None, into=rest)
    assert list(rest.newest_first()) == [
        (NOW - timedelta(days=40), LaterSession(4, False)),
        (None, LaterSession(3, False)),
    ]
    assert not queue


def test_a_step_hands_out_refs_and_keys_of_every_room_together_newest_first():
    due = DueSessions()
    due.add(*ref(1, NOW - timedelta(days=3)))
    due.add_later(
        int((NOW - timedelta(days=2) - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1)),
        9,
        False,
    )
    due.add(*ref(2, None))
    due.add(*ref(3, NOW - timedelta(days=1)))
    order = [getattr(session, "pk", None) for _started, session in due.newest_first()]
    assert order == [3, 9, 1, 2]
    assert len(due) == 4
