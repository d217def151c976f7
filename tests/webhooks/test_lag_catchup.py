"""Under Whereby's data lag no ended session is left behind: each session end is followed on its own."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import pytest
import time_machine
from django.db.models import Count, Q
from django.test import Client
from django.urls import reverse
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from insights_app.jobs import queue as job_queue
from insights_app.models import RoomSession, WebhookEvent
from insights_app.simulator import OrgSpec, generate_organisation
from insights_app.simulator.webhooks import events_between, sign
from insights_app.sync import InProcess, create_or_get_active_run, execute_run
from insights_app.webhooks import jobs as webhook_jobs
from tests.helpers import configure
from tests.helpers.webhooks import SECRET

pytestmark = pytest.mark.django_db(transaction=True)

LAG = 12
ORG = {
    "seed": 1,
    "rooms": 6,
    "sessions_per_room": 20,
    "participants_per_session": 3,
    "days": 3,
    "live": True,
    "now": "2026-11-02T00:00:00Z",
    "max_samples": 10,
    "lag_minutes": LAG,
}


def two_ends_five_minutes_apart():
    """The first room (by time) where a session ends 4.5 to 6 minutes after the one before it."""
    org = generate_organisation(OrgSpec(**ORG))
    start = org.now_ms
    org.advance(3 * 86400)
    pairs = [
        (a, b)
        for room in org._builder.rooms
        for a, b in zip(room.sessions, room.sessions[1:], strict=False)
        if a.start > start and 4.5 <= (b.end - a.end) / 60_000 <= 6
    ]
    assert pairs, "the organisation should have two sessions ending five minutes apart in one room"
    a, b = min(pairs, key=lambda pair: pair[0].end)
    return a.session_id, a.end, b.session_id, b.end, len(a.conns), len(b.conns)


def arrived(session_id: str, connections: int) -> bool:
    """Stored as ended with every connection's leave time: what a report needs."""
    row = (
        RoomSession.objects.filter(room_session_id=session_id, ended_at__isnull=False)
        .annotate(n=Count("participants", filter=Q(participants__left_at__isnull=False)))
        .values_list("n", flat=True)
        .first()
    )
    return row is not None and row >= connections


def run_due_jobs(queue, registry, now: datetime) -> None:
    """What an RQ worker with its scheduler does when the clock reaches ``now`` (in this process)."""
    for job_id in registry.get_jobs_to_schedule(int(now.timestamp())):
        registry.remove(job_id)
        queue.enqueue_job(Job.fetch(job_id, connection=queue.connection))
    while (raw := queue.connection.lpop(queue.key)) is not None:
        Job.fetch(raw.decode(), connection=queue.connection).perform()


@pytest.mark.parametrize("delay", [10, 12], ids=["delay-shorter-than-lag", "delay-equal-to-lag"])
def test_two_sessions_ending_five_minutes_apart_in_one_room_both_arrive_within_lag_plus_2(
    settings, simulator_factory, redis_conn, monkeypatch, delay
):
    monkeypatch.setattr(webhook_jobs, "LINGER_SECONDS", 0)
    first, first_end, second, second_end, first_n, second_n = two_ends_five_minutes_apart()
    server = simulator_factory(**ORG)
    org = server.organisation
    # Twenty minutes before the first end, on a whole minute: the app's starting point.
    org.advance((first_end - org.now_ms) / 1000 - 20 * 60 - (first_end / 1000) % 60)
    with time_machine.travel(org.now, tick=False) as clock:  # one pinned clock for both sides
        configure(
            settings, server, WEBHOOK_SECRET=SECRET, DETAIL_POLICY="none", WEBHOOK_SYNC_DELAY_MINUTES=delay
        )
        run, _ = create_or_get_active_run("full", trigger="command", backend=InProcess())
        assert execute_run(run.pk, backend=InProcess()).status == "succeeded"
        queue = job_queue.get_queue()
        registry = ScheduledJobRegistry(queue=queue)
        client, url = Client(), reverse("insights_app:whereby_webhook")
        arrival: dict[str, float] = {}
        last = org.now_ms
        for _ in range(50):
            org.advance(60)
            clock.move_to(org.now)
            for event in events_between(org, last, org.now_ms):
                body = json.dumps(event, separators=(",", ":")).encode()
                response = client.post(
                    url,
                    body,
                    content_type="application/json",
                    HTTP_HOST="127.0.0.1",
                    HTTP_WHEREBY_SIGNATURE=sign(SECRET, int(time.time()), body),
                )
                assert response.status_code < 300
            last = org.now_ms
            run_due_jobs(queue, registry, org.now)
            for session_id, end, n in ((first, first_end, first_n), (second, second_end, second_n)):
                if session_id not in arrival and arrived(session_id, n):
                    arrival[session_id] = (org.now_ms - end) / 60_000
    assert WebhookEvent.objects.filter(type="room.session.ended").count() >= 2
    assert set(arrival) == {first, second}, f"never arrived: { ({first, second} - set(arrival)) }"
    assert all(minutes <= LAG + 2 for minutes in arrival.values()), arrival


def test_the_safety_net_reads_a_room_where_an_ended_session_is_still_missing(
    settings, simulator_factory, redis_conn
):
    from django.utils import timezone

    from insights_app.models import LiveRoom

    # A Wednesday afternoon, pinned (the app's clock travels there too): at the real "now" of a Monday
    # morning every room's last session ended before the weekend, more than 20 hours ago.
    server = simulator_factory(
        seed=6, rooms=8, sessions_per_room=20, participants_per_session=2, days=3, now="2026-11-04T15:00:00Z"
    )
    org = server.organisation
    with time_machine.travel(org.now, tick=False):
        configure(settings, server, WEBHOOK_SECRET=SECRET, DETAIL_POLICY="none")
        run, _ = create_or_get_active_run("full", trigger="command", backend=InProcess())
        assert execute_run(run.pk, backend=InProcess()).status == "succeeded"
        now = timezone.now()
        ended = [
            (datetime.fromisoformat(item["endedAt"].replace("Z", "+00:00")), item)
            for room in org.room_items()
            for item in org.session_items(room["roomName"])[-1:]
            if item["endedAt"]
        ]
        recent = [
            # Past the hour the catch-up follows a session end: the safety net's own.
            (at, item)
            for at, item in ended
            if now - timedelta(hours=20) < at < now - timedelta(minutes=70)
        ]
        assert recent, "a room's last session should have ended in the last day"
        ended_at, latest = recent[0]
        room = latest["roomName"]
        # The database missed it (a delivery processed, the room sync lost); webhooks are healthy and
        # say the room is occupied again, and its totals look unchanged to the safety net.
        RoomSession.objects.filter(room_session_id=latest["roomSessionId"]).delete()
        WebhookEvent.objects.create(
            event_id="ended-1", type="room.session.ended", room_name=room, created_at=ended_at,
            received_at=now, outcome="processed", processed_at=now,
        )  # fmt: skip
        LiveRoom.objects.create(room_name=room, num_clients=2, counted_at=now)
        net, _ = create_or_get_active_run("incremental", trigger="schedule", backend=InProcess())
        assert execute_run(net.pk, backend=InProcess()).status == "succeeded"
        assert RoomSession.objects.filter(room_session_id=latest["roomSessionId"], ended_at=ended_at).exists()
        assert not WebhookEvent.objects.ended_sessions_missing(timedelta(0)).exists()


def test_a_webhook_room_sync_that_finds_the_session_still_running_costs_one_call(settings, simulator_factory):
    from insights_app.models import Room
    from insights_app.sync.items import signature

    start = datetime.fromisoformat(ORG["now"].replace("Z", "+00:00"))
    server = simulator_factory(**ORG)
    org = server.organisation
    with time_machine.travel(start, tick=False) as clock:
        configure(settings, server, WEBHOOK_SECRET=SECRET, DETAIL_POLICY="none")
        run, _ = create_or_get_active_run("full", trigger="command", backend=InProcess())
        assert execute_run(run.pk, backend=InProcess()).status == "succeeded"
        # The first session after the start lasting over 10 minutes (an organisation of the same seed,
        # run ahead: a live organisation makes its sessions as its clock reaches them).
        ahead = generate_organisation(OrgSpec(**ORG))
        ahead.advance(86400)
        session, room = min(
            (
                (s, r)
                for r in ahead._builder.rooms
                for s in r.sessions
                if s.start > org.now_ms and s.end - s.start > 10 * 60_000
            ),
            key=lambda pair: pair[0].end,
        )
        assert Room.objects.filter(room_name=room.name).exists()

        def webhook_room_sync(minutes_after_end: float):
            org.advance((session.end - org.now_ms) / 1000 + minutes_after_end * 60)
            clock.move_to(org.now)
            server.reset_counters()
            sync, _ = create_or_get_active_run(
                "room", trigger="webhook", scope={"room_names": [room.name]}, backend=InProcess()
            )
            assert execute_run(sync.pk, backend=InProcess()).status == "succeeded"
            return sorted(record.path for record in server.request_log)

        # Five minutes after its end, under a 12-minute lag, the API still shows it running.
        assert webhook_room_sync(5) == ["/insights/room-sessions"]
        assert not RoomSession.objects.filter(
            room_session_id=session.session_id, ended_at__isnull=False
        ).exists()
        # Past the lag it shows ended: its participants, then the room, so its fingerprint is current.
        assert webhook_room_sync(LAG + 1) == [
            "/insights/participants",
            "/insights/room-sessions",
            "/insights/rooms",
        ]
        assert RoomSession.objects.filter(room_session_id=session.session_id, ended_at__isnull=False).exists()
        stored = Room.objects.get(room_name=room.name).sessions_synced_signature
        assert stored == signature(org.room_item(room.name))
