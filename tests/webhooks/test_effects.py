"""What webhook events lead to, with a real worker: presence by createdAt, one delayed room sync per room."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from insights_app.models import (
    LiveConnection,
    LiveRoom,
    Participant,
    Room,
    RoomSession,
    SyncRun,
    WebhookEvent,
)
from insights_app.simulator.webhooks import WebhookFaults, WebhookSender, live_state
from insights_app.webhooks import presence
from tests.helpers import TEST_API_KEY, wait_for
from tests.helpers.webhooks import SECRET, WEBHOOK_PATH, client_event, event, post

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def all_processed() -> bool:
    return not WebhookEvent.objects.filter(processed_at__isnull=True).exists()


def present_ids() -> set[str]:
    return {p.participant_id for room in presence.in_rooms_now() for p in room.people}


def point_at_simulator(settings, sim, *, details: str, delay_seconds: float) -> None:
    """Settings for a test whose webhook jobs sync from the simulator after a short delay."""
    settings.WHEREBY_INSIGHTS = {
        **settings.WHEREBY_INSIGHTS,
        "API_KEY": TEST_API_KEY,
        "BASE_URL": sim.base_url,
        "RATE_BUDGET_POINTS_PER_MINUTE": 100_000,
        "PLAN_POINTS_PER_MINUTE": 100_000,
        "WEBHOOK_SECRET": SECRET,
        "DETAIL_POLICY": details,
        "WEBHOOK_SYNC_DELAY_MINUTES": delay_seconds / 60,
    }


@pytest.fixture
def webhook_settings(settings, redis_conn):
    settings.WHEREBY_INSIGHTS = {
        **settings.WHEREBY_INSIGHTS,
        "WEBHOOK_SECRET": SECRET,
        "DETAIL_POLICY": "none",
        "WEBHOOK_SYNC_DELAY_MINUTES": 600,  # nothing delayed fires during these tests
    }
    return settings.WHEREBY_INSIGHTS


def test_out_of_order_join_and_leave_are_ordered_by_created_at(
    live_server, webhook_settings, rq_worker_factory
):
    worker = rq_worker_factory()
    url = live_server.url + WEBHOOK_PATH
    t0 = (datetime.now(UTC) - timedelta(minutes=10)).replace(microsecond=0)
    deliveries = [
        # p-1 leaves before (in arrival order) it joins: it must end up absent.
        client_event("room.client.left", at=t0 + timedelta(minutes=2), participant="p-1", numClients=1),
        client_event("room.client.joined", at=t0, participant="p-1", numClients=1),
        client_event("room.client.joined", at=t0 + timedelta(minutes=1), participant="p-2", numClients=2),
        client_event("room.client.joined", at=t0 + timedelta(minutes=3), participant="p-3", numClients=2),
        # A count from before the latest event arrives last: it must not win.
        client_event("room.client.joined", at=t0 + timedelta(seconds=30), participant="p-4", numClients=5),
        client_event("room.client.left", at=t0 + timedelta(seconds=40), participant="p-4", numClients=4),
    ]
    for payload in deliveries:  # each processed before the next arrives: arrival order is processing order
        assert post(url, payload).status_code == 202
        wait_for(all_processed, timeout=60) or pytest.fail(worker.log()[-2000:])
    assert present_ids() == {"p-2", "p-3"}
    room = LiveRoom.objects.get(room_name="/standup")
    assert room.num_clients == 2
    p1 = LiveConnection.objects.get(participant_id="p-1")
    assert (p1.joined_at, p1.left_at) == (t0, t0 + timedelta(minutes=2))
    # Presence never touches the synced tables.
    assert Participant.objects.count() == RoomSession.objects.count() == Room.objects.count() == 0


def test_late_join_of_an_ended_session_does_not_show_as_present(
    live_server, webhook_settings, rq_worker_factory
):
    rq_worker_factory()
    url = live_server.url + WEBHOOK_PATH
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    # "lost" never says goodbye; "late" joined before the end but arrives after it.
    assert post(url, client_event("room.client.joined", at=t0, participant="lost")).status_code == 202
    wait_for(all_processed, timeout=60)
    assert present_ids() == {"lost"}
    assert post(url, event("room.session.ended", at=t0 + timedelta(minutes=20))).status_code == 202
    assert post(url, client_event("room.client.joined", at=t0, participant="late")).status_code == 202
    wait_for(all_processed, timeout=60)
    assert present_ids() == set()


def test_presence_matches_the_simulators_live_state_after_a_burst(
    live_server, webhook_settings, simulator_factory, rq_worker_factory
):
    worker = rq_worker_factory()
    sim = simulator_factory(
        seed=7,
        rooms=8,
        sessions_per_room=40,
        participants_per_session=5,
        days=4,
        live=True,
        now=timezone.now(),
    )
    faults = WebhookFaults(duplicate_rate=0.2, reorder_rate=0.2, seed=7)
    # One clock for the simulated Whereby and the app (intake bounds createdAt by the time received,
    # and the sender signs with the clock): the app's moves with the simulation.
    with time_machine.travel(sim.organisation.now, tick=True) as clock:
        sender = WebhookSender(sim.organisation, live_server.url + WEBHOOK_PATH, SECRET, faults).start()
        try:
            # Move the simulated clock a minute at a time until there has been a burst of activity and
            # people are in rooms at the end (any date: weekends and nights are quieter, so go on longer).
            for _minute in range(48 * 60):
                sim.organisation.advance(60)
                clock.move_to(sim.organisation.now)
                while sender._queue.unfinished_tasks:  # delivered (signed and checked) in this minute
                    time.sleep(0.01)
                if len(sender.deliveries) + sender._queue.qsize() >= 150 and live_state(sim.organisation):
                    break
            assert sender.flush(timeout=120)
        finally:
            sender.stop()
        statuses = {d.status for d in sender.deliveries}
        assert statuses <= {200, 202}, statuses
        assert any(d.status == 200 for d in sender.deliveries)  # duplicates were acknowledged
        if not wait_for(all_processed, timeout=120):
            pytest.fail(worker.log()[-2000:])
        truth = live_state(sim.organisation)
        assert truth, "the simulator has nobody connected at the end of the burst"
        assert {
            room.room_name: {p.participant_id for p in room.people} for room in presence.in_rooms_now()
        } == truth
    counts = dict(LiveRoom.objects.filter(num_clients__gt=0).values_list("room_name", "num_clients"))
    assert counts == {room: len(ids) for room, ids in truth.items()}


def test_session_ended_leads_to_exactly_one_room_sync_after_the_delay(
    live_server, settings, redis_conn, simulator_factory, rq_worker_factory
):
    sim = simulator_factory(
        seed=3, rooms=3, sessions_per_room=4, participants_per_session=3, now=timezone.now()
    )
    delay_seconds = 10
    point_at_simulator(settings, sim, details="none", delay_seconds=delay_seconds)
    worker = rq_worker_factory()
    url = live_server.url + WEBHOOK_PATH
    room_name = max(sim.organisation.room_items(), key=lambda r: r["totalSessions"])["roomName"]
    sent = time.monotonic()
    now = datetime.now(UTC)
    # The end, a duplicate delivery of it, and the last leave (numClients 0): one pending sync.
    ended = event("room.session.ended", at=now, room=room_name)
    assert post(url, ended).status_code == 202
    assert post(url, ended).status_code == 200
    last_left = client_event(
        "room.client.left", at=now + timedelta(seconds=2), participant="p-9", room=room_name, numClients=0
    )
    assert post(url, last_left).status_code == 202
    wait_for(all_processed, timeout=30)
    assert SyncRun.objects.count() == 0  # nothing before the delay
    from rq.registry import ScheduledJobRegistry

    from insights_app.jobs.queue import get_queue
    from insights_app.site import job_id

    queue = get_queue()
    pending = [*ScheduledJobRegistry(queue=queue).get_job_ids(), *queue.job_ids]
    assert len([j for j in pending if j.startswith(job_id("webhook-room-"))]) == 1  # one pending job
    run = wait_for(lambda: SyncRun.objects.filter(status__in=["succeeded", "partial", "failed"]).first(), 90)
    assert time.monotonic() - sent >= delay_seconds - 1  # RQ schedules to the whole second
    received = WebhookEvent.objects.get(event_id=ended["id"]).received_at
    assert run.queued_at - received >= timedelta(seconds=delay_seconds - 1)  # not before the delay
    assert (run.kind, run.trigger, run.scope, run.status) == (
        "room",
        "webhook",
        {"room_names": [room_name]},
        "succeeded",
    ), worker.log()[-2000:]
    time.sleep(delay_seconds)  # a second job, if any, would have started by now
    assert SyncRun.objects.count() == 1
    # DB == API for that room, and nothing else was fetched.
    assert list(Room.objects.values_list("room_name", flat=True)) == [room_name]
    assert Room.objects.get().raw == sim.organisation.room_item(room_name)
    api_sessions = sim.organisation.session_items(room_name)
    assert {s.room_session_id: s.raw for s in RoomSession.objects.all()} == {
        s["roomSessionId"]: s for s in api_sessions
    }
    api_participants = {
        (s["roomSessionId"], p["participantId"]): p
        for s in api_sessions
        for p in sim.organisation.participant_items(s["roomSessionId"])
    }
    stored = {
        (p.room_session.room_session_id, p.participant_id): p.raw
        for p in Participant.objects.select_related("room_session")
    }
    assert stored == api_participants and stored
    # A later end of the same room schedules a new sync (the pending mark was released).
    assert post(url, event("room.session.ended", at=datetime.now(UTC), room=room_name)).status_code == 202
    wait_for(lambda: SyncRun.objects.count() == 2, timeout=60)


@pytest.mark.parametrize("policy", ["recent", "none"])
def test_client_left_fetches_that_connections_details_after_the_delay_where_the_policy_asks(
    policy, live_server, settings, redis_conn, simulator_factory, rq_worker_factory
):
    from insights_app.models import ParticipantDetail
    from insights_app.sync import InProcess, service

    sim = simulator_factory(
        seed=4, rooms=2, sessions_per_room=3, participants_per_session=3, now=timezone.now()
    )
    delay_seconds = 6
    point_at_simulator(settings, sim, details=policy, delay_seconds=delay_seconds)
    room_name = sim.organisation.room_items()[0]["roomName"]
    run, _ = service.create_or_get_active_run(
        "room", trigger="command", scope={"room_names": [room_name]}, details="none", backend=InProcess()
    )
    service.execute_run(run.pk, backend=InProcess())
    targets = list(
        Participant.objects.filter(left_at__isnull=False).select_related("room_session").order_by("pk")[:3]
    )
    assert len(targets) == 3 and all(t.details_synced_at is None for t in targets)
    rq_worker_factory()
    sent, at = time.monotonic(), datetime.now(UTC)
    for target in targets:  # three leave at the same time: one window, one details run
        left = client_event(
            "room.client.left",
            at=at,
            participant=target.participant_id,
            session=target.room_session.room_session_id,
            room=room_name,
            numClients=1,
        )
        assert post(live_server.url + WEBHOOK_PATH, left).status_code == 202
    wait_for(all_processed, timeout=30)
    if policy == "none":
        time.sleep(delay_seconds * 2)
        assert SyncRun.objects.exclude(pk=run.pk).count() == 0
        return
    details_run = wait_for(
        lambda: SyncRun.objects.filter(kind="details", status="succeeded").first(), timeout=90
    )
    assert time.monotonic() - sent >= delay_seconds - 1  # RQ schedules to the whole second
    assert (details_run.trigger, details_run.scope) == (
        "webhook",
        {"participant_ids": sorted(t.pk for t in targets)},
    )
    time.sleep(delay_seconds)  # a second details run, if any, would have started by now
    assert SyncRun.objects.filter(kind="details").count() == 1  # not one per connection
    for target in targets:
        target.refresh_from_db()
        assert target.details_synced_at is not None
        api = sim.organisation.detail_items(target.room_session.room_session_id, target.participant_id)
        assert ParticipantDetail.objects.filter(participant=target).count() == len(api) > 0


def test_rooms_emptied_in_one_window_share_one_room_sync_and_one_rooms_listing(
    live_server, settings, redis_conn, simulator_factory, rq_worker_factory
):
    sim = simulator_factory(
        seed=5, rooms=3, sessions_per_room=3, participants_per_session=3, now=timezone.now()
    )
    delay_seconds = 6
    point_at_simulator(settings, sim, details="none", delay_seconds=delay_seconds)
    worker = rq_worker_factory()
    names = sorted(room["roomName"] for room in sim.organisation.room_items())[:2]
    at = datetime.now(UTC)  # both end at the same instant: one window
    # One room says its session ended; the other only that its last client left (numClients 0).
    ended = event("room.session.ended", at=at, room=names[0])
    last_left = client_event("room.client.left", at=at, participant="p-1", room=names[1], numClients=0)
    for payload in (ended, last_left):
        assert post(live_server.url + WEBHOOK_PATH, payload).status_code == 202
    run = wait_for(lambda: SyncRun.objects.filter(status__in=["succeeded", "partial", "failed"]).first(), 90)
    assert (run.kind, run.trigger, run.scope, run.status) == (
        "room",
        "webhook",
        {"room_names": names},
        "succeeded",
    ), worker.log()[-2000:]
    time.sleep(delay_seconds)  # a second run, if any, would have started by now
    assert SyncRun.objects.count() == 1
    assert sim.counters["/insights/rooms"] == 1  # one listing of all rooms, not one call per room
    for name in names:  # DB == API for both rooms
        assert Room.objects.get(room_name=name).raw == sim.organisation.room_item(name)
        api_sessions = sim.organisation.session_items(name)
        stored = {s.room_session_id: s.raw for s in RoomSession.objects.filter(room__room_name=name)}
        assert stored == {s["roomSessionId"]: s for s in api_sessions}
        for session in api_sessions:
            people = {
                p.participant_id: p.raw
                for p in Participant.objects.filter(room_session__room_session_id=session["roomSessionId"])
            }
            expected = sim.organisation.participant_items(session["roomSessionId"])
            assert people == {p["participantId"]: p for p in expected}
