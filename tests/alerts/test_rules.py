"""Alert rules, their life and their delivery: per rule, one alert and one notification per channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from insights_app.alerts.engine import evaluate
from insights_app.models import Alert, Participant, Room, RoomSession, SyncRun
from insights_app.signals import alert_raised, alert_resolved
from tests.helpers import wait_for
from tests.helpers.alerts import HOOK_TOKEN, HookServer, drain

# Transactional: the in-process RQ worker closes database connections around each job, as in production.
pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)


class Channels:
    """Counts what each channel delivered; ``tick`` is one schedule tick (rules, then queued jobs)."""

    def __init__(self, mailoutbox, hook: HookServer) -> None:
        self.mail = mailoutbox
        self.hook = hook
        self.signals: list[tuple[str, Alert]] = []
        alert_raised.connect(self._raised)
        alert_resolved.connect(self._resolved)

    def _raised(self, sender, alert, **kwargs):
        self.signals.append(("raised", alert))

    def _resolved(self, sender, alert, **kwargs):
        self.signals.append(("resolved", alert))

    def disconnect(self) -> None:
        alert_raised.disconnect(self._raised)
        alert_resolved.disconnect(self._resolved)

    def tick(self):
        result = evaluate()
        drain("default")
        return result

    def delivered(self) -> dict[str, int]:
        """Per channel and event, how many notifications went out so far."""
        hook_texts = [p["body"]["text"] for p in self.hook.posts]
        return {
            "mail_raised": sum(not m.subject.startswith("[Whereby Insights] Resolved") for m in self.mail),
            "mail_resolved": sum(m.subject.startswith("[Whereby Insights] Resolved") for m in self.mail),
            "signal_raised": sum(e == "raised" for e, _ in self.signals),
            "signal_resolved": sum(e == "resolved" for e, _ in self.signals),
            "hook_raised": sum("Alert:" in t for t in hook_texts),
            "hook_resolved": sum("Resolved:" in t for t in hook_texts),
        }


def counts(raised: int, resolved: int) -> dict[str, int]:
    return {
        f"{channel}_{event}": n
        for channel in ("mail", "signal", "hook")
        for event, n in (("raised", raised), ("resolved", resolved))
    }


@pytest.fixture
def channels(settings, redis_conn, mailoutbox):
    hook = HookServer()
    settings.WHEREBY_INSIGHTS = {
        "QUEUE": "whereby_insights",
        "SCHEDULE_INTERVAL_MINUTES": 15,
        "ALERTS": {
            "EMAIL_TO": ["ops@example.com"],
            "WEBHOOK_URL": hook.url,
            "WEBHOOK_TOKEN": HOOK_TOKEN,
            "WEBHOOK_RETRY_INTERVALS": [0, 0],
            "WEBHOOK_TIMEOUT": 5,
            "QUEUE": "default",
            "SITE_URL": "https://insights.example.com",
        },
    }
    ch = Channels(mailoutbox, hook)
    yield ch
    ch.disconnect()
    hook.stop()


def org_run(status: str, *, finished: datetime, kind: str = "incremental", **fields) -> SyncRun:
    return SyncRun.objects.create(
        kind=kind,
        dedup_key=f"org-{status}-{finished.isoformat()}-{SyncRun.objects.count()}",
        trigger="schedule",
        status=status,
        started_at=finished - timedelta(minutes=1),
        finished_at=finished,
        **fields,
    )


def assert_life(channels: Channels, rule: str, subject: str) -> Alert:
    """After a tick that raised: one open alert, one notification per channel; a repeat adds nothing."""
    alert = Alert.objects.get(rule=rule, resolved_at__isnull=True)
    assert alert.subject == subject
    assert alert.notified_at is not None
    assert channels.delivered() == counts(1, 0)
    again = channels.tick()
    assert again.raised == [] and again.resolved == []
    assert Alert.objects.filter(rule=rule).count() == 1
    assert channels.delivered() == counts(1, 0)
    return alert


def assert_resolved_once(channels: Channels, rule: str) -> None:
    alert = Alert.objects.get(rule=rule)
    assert alert.resolved_at is not None and alert.resolved_notified_at is not None
    assert channels.delivered() == counts(1, 1)
    channels.tick()
    assert channels.delivered() == counts(1, 1)
    assert Alert.objects.filter(rule=rule).count() == 1


# stale data --------------------------------------------------------------------------------------


def test_stale_data_alerts_after_three_schedule_intervals_and_resolves_on_the_next_sync(
    channels, time_machine
):
    time_machine.move_to(T0, tick=True)
    org_run("succeeded", finished=timezone.now())
    time_machine.shift(timedelta(minutes=44))
    assert channels.tick().raised == []

    time_machine.shift(timedelta(minutes=2))
    result = channels.tick()

    assert [a.rule for a in result.raised] == ["stale_data"]
    alert = assert_life(channels, "stale_data", "org")
    assert "46 minutes" in alert.title
    assert channels.mail[0].to == ["ops@example.com"]
    assert "https://insights.example.com/admin/insights_app/syncrun/dashboard/" in channels.mail[0].body

    org_run("partial", finished=timezone.now(), kind="full")
    result = channels.tick()
    assert [a.pk for a in result.resolved] == [alert.pk]
    assert_resolved_once(channels, "stale_data")


def test_a_fresh_install_without_any_run_is_not_stale(channels, time_machine):
    time_machine.move_to(T0, tick=True)
    assert channels.tick().raised == []
    assert channels.delivered() == counts(0, 0)


# failing syncs -----------------------------------------------------------------------------------


def test_three_failed_runs_in_a_row_alert_once_and_a_success_resolves(channels, time_machine):
    time_machine.move_to(T0, tick=True)
    now = timezone.now()
    org_run("succeeded", finished=now - timedelta(minutes=40))
    org_run(
        "failed", finished=now - timedelta(minutes=30), error="/insights/rooms answered 502 on 6 attempts"
    )
    org_run(
        "failed", finished=now - timedelta(minutes=20), error="/insights/rooms answered 502 on 6 attempts"
    )
    assert channels.tick().raised == []  # two in a row: not yet

    last = org_run(
        "failed", finished=now - timedelta(minutes=10), error="/insights/rooms answered 502 <b>x</b>"
    )
    channels.tick()

    alert = assert_life(channels, "failing_syncs", "org")
    assert alert.details["run_id"] == last.pk
    # The failure text comes from the API: escaped in the HTML mail, and the mail links to the run.
    html = channels.mail[0].alternatives[0][0]
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert f"/admin/insights_app/syncrun/{last.pk}/change/" in channels.mail[0].body
    assert "&lt;b&gt;x&lt;/b&gt;" in channels.hook.posts[0]["body"]["text"]

    org_run("succeeded", finished=timezone.now())
    channels.tick()
    assert_resolved_once(channels, "failing_syncs")


def test_one_run_refused_with_401_alerts_at_once(channels, time_machine):
    time_machine.move_to(T0, tick=True)
    org_run("succeeded", finished=timezone.now() - timedelta(minutes=15))
    org_run(
        "failed",
        finished=timezone.now(),
        error="/insights/rooms: the API key was refused (401): check WHEREBY_INSIGHTS['API_KEY']",
    )

    channels.tick()

    alert = assert_life(channels, "failing_syncs", "org")
    assert alert.details["auth"] is True and "refused" in alert.title


# budget pressure ---------------------------------------------------------------------------------


def test_429s_within_the_window_alert_and_clear_when_the_window_passes(channels, time_machine):
    time_machine.move_to(T0, tick=True)
    org_run("succeeded", finished=timezone.now(), api_throttles=3)

    channels.tick()

    alert = assert_life(channels, "budget_pressure", "org")
    assert "3 requests were refused with 429" in alert.message
    time_machine.shift(timedelta(minutes=61))
    org_run("succeeded", finished=timezone.now())  # keeps the data fresh: only the budget clears
    channels.tick()
    assert_resolved_once(channels, "budget_pressure")


def test_the_organisation_running_low_on_points_alerts_while_the_budget_is_paused(
    channels, settings, redis_conn
):
    from insights_app.whereby.budget.current import get_budget

    settings.WHEREBY_INSIGHTS = {
        **settings.WHEREBY_INSIGHTS,
        "API_KEY": "k",
        "BASE_URL": "http://127.0.0.1:9/v1",
    }
    # What the client does when X-RateLimit-Remaining reaches RATE_LOW_REMAINING: pause every process.
    budget = get_budget()
    budget.pause(8)

    channels.tick()

    alert = assert_life(channels, "budget_pressure", "org")
    assert "RATE_LOW_REMAINING" in alert.message
    wait_for(lambda: budget.available() and not redis_conn.keys("insights:ratebudget:*:pause"), timeout=20)
    channels.tick()
    assert_resolved_once(channels, "budget_pressure")


# quality -----------------------------------------------------------------------------------------


def _connections(room: Room, total: int, degraded: int, *, joined: datetime, unmeasured: int = 0) -> None:
    session = RoomSession.objects.create(
        room=room, room_session_id=f"{room.room_name}-{joined.isoformat()}", room_name=room.room_name
    )
    Participant.objects.bulk_create(
        Participant(
            room_session=session,
            room=room,
            participant_id=f"p{i}",
            joined_at=joined,
            quality_degraded=None if i >= total else i < degraded,
        )
        for i in range(total + unmeasured)
    )


def test_a_room_with_mostly_degraded_connections_alerts_in_one_query(
    channels, time_machine, django_assert_num_queries
):
    from insights_app.alerts import rules
    from insights_app.alerts.settings import alert_settings

    time_machine.move_to(T0, tick=True)
    now = timezone.now()
    org_run("succeeded", finished=now)
    bad = Room.objects.create(room_name="/support<script>alert(1)</script>")
    few = Room.objects.create(room_name="/tiny")
    fine = Room.objects.create(room_name="/sales")
    _connections(bad, 30, 15, joined=now - timedelta(hours=2), unmeasured=40)  # 50 % of 30 measured
    _connections(bad, 30, 0, joined=now - timedelta(hours=30))  # good calls, but before the window
    _connections(few, 3, 3, joined=now - timedelta(hours=1))  # 100 %, but only three connections
    _connections(fine, 40, 4, joined=now - timedelta(hours=3))  # 10 %

    with django_assert_num_queries(1):
        findings = rules.quality(alert_settings())
    assert [f.subject for f in findings] == [f"room:{bad.pk}"]

    channels.tick()

    alert = assert_life(channels, "quality", f"room:{bad.pk}")
    assert "50%" in alert.title and "15 of 30" in alert.message
    assert "&lt;script&gt;" in channels.mail[0].alternatives[0][0]
    assert "<script>" not in channels.hook.posts[0]["body"]["text"]
    assert "quality/?room=%2Fsupport%3Cscript%3E" in channels.mail[0].body

    time_machine.shift(timedelta(hours=23))  # the bad calls leave the last day
    org_run("succeeded", finished=timezone.now())
    channels.tick()
    assert_resolved_once(channels, "quality")


# worker gone -------------------------------------------------------------------------------------


def test_jobs_waiting_with_no_worker_alert_after_the_limit_and_resolve_when_run(channels, time_machine):
    from insights_app.jobs.queue import get_queue

    time_machine.move_to(T0, tick=True)
    org_run("succeeded", finished=timezone.now())
    get_queue().enqueue("insights_app.jobs.reap_abandoned_runs_job")
    time_machine.shift(timedelta(minutes=9))
    org_run("succeeded", finished=timezone.now())
    assert channels.tick().raised == []

    time_machine.shift(timedelta(minutes=2))
    channels.tick()

    alert = assert_life(channels, "worker_gone", "queue:whereby_insights")
    assert "1 jobs waiting" in alert.title
    drain("whereby_insights")  # a worker comes back and runs the job
    channels.tick()
    assert_resolved_once(channels, "worker_gone")


def test_a_repeated_tick_costs_the_same_queries_for_3_or_30_open_alerts(settings, redis_conn, time_machine):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.WHEREBY_INSIGHTS = {"ALERTS": {"EMAIL_TO": [], "DISABLED_RULES": ["worker_gone"]}}
    time_machine.move_to(T0, tick=True)
    org_run("succeeded", finished=timezone.now())
    cost = {}
    for rooms in (3, 30):
        Room.objects.all().delete()
        for i in range(rooms):
            _connections(Room.objects.create(room_name=f"/r{rooms}-{i}"), 20, 20, joined=timezone.now())
        assert len(evaluate().raised) == rooms
        with CaptureQueriesContext(connection) as queries:
            again = evaluate()
        assert again.raised == [] and len(again.still_open) == rooms
        cost[rooms] = len(queries)
        Alert.objects.all().delete()
    assert cost[3] == cost[30]
