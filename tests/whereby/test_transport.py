"""Slow and unreachable servers: an overall deadline per response, cancel mid-read, named causes."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from insights_app.errors import Interrupted, TransportError
from insights_app.simulator import FaultConfig
from insights_app.whereby.client import WherebyClient
from tests.helpers import TEST_API_KEY


def quick_client(base_url: str, **options) -> WherebyClient:
    defaults = {"backoff_base": 0.01, "backoff_max": 0.02, "max_retries": 1, "sleep": lambda s: None}
    return WherebyClient(TEST_API_KEY, base_url, **{**defaults, **options})


def trickling_server(simulator_factory, **faults):
    # One room: a body of a few hundred bytes, which at 20 bytes a second takes far over a minute.
    pace = {"trickle_rate": 1.0, "trickle_interval_ms": 50, "trickle_bytes": 1, **faults}
    return simulator_factory(
        seed=3, rooms=1, sessions_per_room=0, participants_per_session=0, faults=FaultConfig(**pace)
    )


def test_a_trickling_response_is_cut_off_at_the_overall_deadline(simulator_factory):
    server = trickling_server(simulator_factory)
    client = quick_client(server.base_url, response_timeout=1.0, read_timeout=5.0)
    started = time.monotonic()

    with pytest.raises(TransportError) as caught:
        list(client.iter_rooms())

    elapsed = time.monotonic() - started
    assert elapsed < 8, f"two attempts of a 1 s deadline took {elapsed:.1f} s"
    message = str(caught.value)
    assert "127.0.0.1" in message and "too slowly" in message and "1 s" in message
    assert server.counters["/insights/rooms"] == 2  # the first attempt and one retry


def test_a_call_gets_its_total_deadline_across_retries_not_one_per_attempt(simulator_factory):
    server = trickling_server(simulator_factory)
    client = quick_client(server.base_url, response_timeout=60.0, call_deadline=1.5, max_retries=5)
    started = time.monotonic()

    with pytest.raises(TransportError) as caught:
        list(client.iter_rooms())

    elapsed = time.monotonic() - started
    assert elapsed < 4, f"a call with 1.5 s in all took {elapsed:.1f} s"
    assert "too slowly" in str(caught.value) and "CALL_DEADLINE" in str(caught.value)
    assert server.counters["/insights/rooms"] == 1  # no retry is started once the time is spent


def test_a_slow_first_attempt_leaves_the_retry_only_the_time_that_is_left(simulator_factory):
    server = trickling_server(simulator_factory)
    client = quick_client(server.base_url, response_timeout=1.0, call_deadline=1.6, max_retries=5)
    started = time.monotonic()

    with pytest.raises(TransportError):
        list(client.iter_rooms())

    elapsed = time.monotonic() - started
    assert 1.5 <= elapsed < 4, f"an attempt of 1 s, then one of the 0.6 s left, took {elapsed:.1f} s"
    assert server.counters["/insights/rooms"] == 2


@pytest.mark.django_db(transaction=True)
def test_a_sync_against_a_trickling_api_ends_within_its_call_deadline_and_the_next_sync_runs(
    simulator_factory, settings
):
    from insights_app.models import SyncRun, SyncStatus, SyncTrigger
    from insights_app.sync import InProcess, create_or_get_active_run, execute_run

    server = trickling_server(simulator_factory)
    settings.WHEREBY_INSIGHTS = {
        "API_KEY": TEST_API_KEY,
        "BASE_URL": server.base_url,
        "RATE_BUDGET_POINTS_PER_MINUTE": 100_000,
        "PLAN_POINTS_PER_MINUTE": 100_000,
        "RESPONSE_TIMEOUT": 1.0,
        "CALL_DEADLINE": 2.0,
        "BACKOFF_BASE": 0.01,
        "BACKOFF_MAX": 0.02,
    }
    run, _ = create_or_get_active_run("full", trigger=SyncTrigger.COMMAND, backend=InProcess())
    started = time.monotonic()

    with pytest.raises(TransportError):  # the run is failed, and the error raised for its caller
        execute_run(run.pk, backend=InProcess())

    elapsed = time.monotonic() - started
    run = SyncRun.objects.get(pk=run.pk)
    assert run.status == SyncStatus.FAILED
    assert "too slowly" in run.error and "CALL_DEADLINE" in run.error
    assert elapsed < 6, f"a sync whose calls get 2 s each took {elapsed:.1f} s"

    server.faults = FaultConfig()  # the API answers normally again
    again, _ = create_or_get_active_run("full", trigger=SyncTrigger.COMMAND, backend=InProcess())
    again = execute_run(again.pk, backend=InProcess())
    assert again.status == SyncStatus.SUCCEEDED
    assert again.rooms_created == 1


def test_a_cancel_interrupts_a_response_being_read(simulator_factory):
    server = trickling_server(simulator_factory)
    client = quick_client(server.base_url, response_timeout=600.0, read_timeout=5.0)
    asked_at = time.monotonic() + 0.5
    client.interrupt = lambda: time.monotonic() >= asked_at
    started = time.monotonic()

    with pytest.raises(Interrupted):
        list(client.iter_rooms())

    assert time.monotonic() - started < 4
    assert server.counters["/insights/rooms"] == 1


@pytest.mark.django_db(transaction=True)
def test_cancelling_a_sync_stuck_on_a_trickling_server_ends_it_promptly(simulator_factory, settings):
    from insights_app.models import SyncRun, SyncStatus, SyncTrigger
    from insights_app.sync import InProcess, create_or_get_active_run, execute_run

    server = trickling_server(simulator_factory)
    settings.WHEREBY_INSIGHTS = {
        "API_KEY": TEST_API_KEY,
        "BASE_URL": server.base_url,
        "RATE_BUDGET_POINTS_PER_MINUTE": 100_000,
        "PLAN_POINTS_PER_MINUTE": 100_000,
        "RESPONSE_TIMEOUT": 3600,  # only the cancel can end this response
        "CALL_DEADLINE": 3600,
        "READ_TIMEOUT": 30,
    }
    run, _ = create_or_get_active_run("full", trigger=SyncTrigger.COMMAND, backend=InProcess())
    timer = threading.Timer(1.0, lambda: SyncRun.objects.filter(pk=run.pk).update(cancel_requested=True))
    timer.start()
    started = time.monotonic()

    run = execute_run(run.pk, backend=InProcess())

    timer.join()
    assert run.status == SyncStatus.CANCELLED
    assert time.monotonic() - started < 6


def test_a_refused_connection_names_the_host_and_the_cause():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    client = quick_client(f"http://127.0.0.1:{port}/v1")

    with pytest.raises(TransportError) as caught:
        list(client.iter_rooms())

    assert f"127.0.0.1:{port} refused the connection" in str(caught.value)
    assert "2 attempts" in str(caught.value)


def test_a_name_that_does_not_resolve_is_called_a_dns_failure():
    client = quick_client("http://no-such-host.invalid/v1")

    with pytest.raises(TransportError) as caught:
        list(client.iter_rooms())

    assert "no-such-host.invalid could not be resolved (DNS)" in str(caught.value)


@pytest.mark.integration  # serves a server that never answers
def test_a_server_that_never_answers_is_a_timeout_naming_the_host():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections are accepted by the kernel, then nothing is ever sent
        port = silent.getsockname()[1]
        client = quick_client(f"http://127.0.0.1:{port}/v1", read_timeout=0.3, max_retries=0)

        with pytest.raises(TransportError) as caught:
            list(client.iter_rooms())

    assert f"127.0.0.1:{port} did not answer within 0.3 s" in str(caught.value)


def test_credentials_in_the_base_url_and_the_key_never_appear_in_connection_errors():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = quick_client(f"http://admin:hunter2pass@127.0.0.1:{port}/v1")

    with pytest.raises(TransportError) as caught:
        list(client.iter_rooms())

    message = str(caught.value)
    assert "hunter2pass" not in message and "admin" not in message and TEST_API_KEY not in message
    assert f"127.0.0.1:{port}" in message
