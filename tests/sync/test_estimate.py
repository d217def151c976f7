"""Before and during a full sync, the points still needed and the time they take at the current budget
are estimated (rooms' totalSessions, sessions' participant totals) and shown, as an estimate, on the
sync dashboard and in the command's progress bar."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from insights_app.admin.run_text import run_progress
from insights_app.management.progress import ProgressBar
from insights_app.models import SyncRun
from insights_app.simulator import FaultConfig
from insights_app.simulator.ledger import OURS
from insights_app.sync import InProcess, create_or_get_active_run, execute_run
from insights_app.sync.estimate import estimate_for, full_sync_estimate
from tests.helpers import configure

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_first_estimate_is_close_to_what_the_full_sync_spends_and_falls_to_nothing(
    settings, simulator_factory, redis_conn
):
    server = simulator_factory(seed=9, rooms=6, sessions_per_room=25, participants_per_session=4)
    configure(settings, server, RATE_BUDGET_POINTS_PER_MINUTE=6000)
    run, _created = create_or_get_active_run("full", trigger="command", backend=InProcess())
    seen = []
    totals: list[int] = []

    def watch(current: SyncRun) -> None:
        estimate = estimate_for(current)
        if estimate is not None:
            seen.append(estimate)
            totals.append(current.api_points + estimate.points)

    done = execute_run(run.pk, backend=InProcess(), on_progress=watch)

    assert done.status == "succeeded"
    spent = done.api_points
    last = seen[-1]
    # Made after the rooms page alone (before any session was listed): within a third of the truth.
    # The first report may come after the first step spent some points: the whole the run expected
    # then is what it spent and what it estimated left.
    assert 0.67 * spent <= totals[0] <= 1.33 * spent, (totals[0], spent)
    assert last.points <= 0.05 * spent
    # The time is the points at the budget; while points are left, never under a second.
    assert all(e.seconds == pytest.approx(max(float(e.points > 0), e.points / 6000 * 60)) for e in seen)
    assert estimate_for(done) is None  # a finished run has nothing left


def test_a_second_full_sync_starts_at_the_start_box_estimate_and_spends_about_that(
    settings, simulator_factory, redis_conn
):
    """Details already stored are not fetched again: the start box left them out, the run's first
    estimate counted them (the demo: "about 6,109 points" in the box, "about 15,661 points left" two
    seconds into the run)."""
    server = simulator_factory(seed=9, rooms=4, sessions_per_room=10, participants_per_session=4)
    configure(settings, server, RATE_BUDGET_POINTS_PER_MINUTE=6000)
    call_command("insights_sync", "--full")
    box = full_sync_estimate()
    run, _created = create_or_get_active_run("full", trigger="command", backend=InProcess())
    seen = []

    def watch(current: SyncRun) -> None:
        estimate = estimate_for(current)
        if estimate is not None:
            seen.append(current.api_points + estimate.points)

    done = execute_run(run.pk, backend=InProcess(), on_progress=watch)

    # The run's first report may come after its first newest-first step spent points (a step holds
    # sessions only at some hours of some days): its whole is what it spent and what it saw left.
    assert done.status == "succeeded" and box is not None
    assert 0.8 * box.points <= seen[0] <= 1.2 * box.points, (box.points, seen[0])
    assert 0.67 * done.api_points <= seen[0] <= 1.33 * done.api_points, (seen[0], done.api_points)


def test_the_dashboard_and_the_progress_bar_show_the_estimate(settings, simulator, redis_conn, admin_client):
    configure(settings, simulator, RATE_BUDGET_POINTS_PER_MINUTE=600)
    call_command("insights_sync", "--details", "none")  # learns the endpoints' costs (1 point each here)
    run = SyncRun.objects.create(
        kind="full",
        status="running",
        api_points=150,
        checkpoint={"estimate": {"calls": {"participants": 100, "participant": 650}, "api_points": 100}},
    )
    text = "about 700 points left, about 1 min 10 s at 600 points/min (estimate)"
    page = admin_client.get(reverse("admin:insights_app_syncrun_dashboard")).content.decode()
    assert text in page
    status = admin_client.get(reverse("admin:insights_app_syncrun_dashboard_status")).json()
    assert [r["estimate_text"] for r in status["active"]] == [text]
    bar = ProgressBar(write=lambda line: None, tty=True)
    bar.update(run)
    assert "points_left=~700" in bar._bar.postfix and "eta=~1 min 10 s" in bar._bar.postfix
    bar.close()


def test_the_estimate_never_says_about_0_s_while_calls_are_due(settings, simulator, redis_conn, admin_client):
    """A step longer than its mark expected (the run spent what the calls due were expected to cost,
    and is still at work): the dashboard keeps the last part of the estimate, not "about 0 s"."""
    configure(settings, simulator, RATE_BUDGET_POINTS_PER_MINUTE=6000)
    SyncRun.objects.create(
        kind="full",
        status="running",
        api_points=900,
        checkpoint={"estimate": {"calls": {"participants": 100, "participant": 300}, "api_points": 100}},
    )
    status = admin_client.get(reverse("admin:insights_app_syncrun_dashboard_status")).json()
    assert [r["estimate_text"] for r in status["active"]] == [
        "about 20 points left, about 1 s at 6,000 points/min (estimate)"
    ]


def test_before_a_full_sync_the_dashboard_estimates_what_it_will_spend(
    settings, simulator, redis_conn, admin_client
):
    configure(settings, simulator, RATE_BUDGET_POINTS_PER_MINUTE=600)
    call_command("insights_sync", "--details", "none")  # 3 rooms, 12 sessions, 36 connections stored
    page = admin_client.get(reverse("admin:insights_app_syncrun_dashboard")).content.decode()
    # 1 rooms page, 3 session listings, 12 participants calls, 36 detail calls: 1 point each here.
    assert "A full sync now: about 52 points, about 5 s at 600 points/min (estimate)" in page
    charged_before = simulator.ledger.total(OURS)
    out = io.StringIO()
    call_command("insights_sync", "--full", stdout=out)
    # What the API charged is what was estimated, and what the run says it was charged. The budget
    # reserved more (the most a call may cost until the limiter's shape is known: docs/budget.md).
    assert simulator.ledger.total(OURS) - charged_before == 52
    run = SyncRun.objects.latest("pk")
    assert run.api_points == 52, (run.api_points, run.api_points_estimated, run.api_points_reserved)
    assert run.api_points_reserved >= 52
    # The command says so, and says when that is an estimate (the limiter not named yet).
    estimated = f" ({run.api_points_estimated} of them estimated" if run.api_points_estimated else ","
    assert f"52 points charged{estimated}" in out.getvalue()
    assert (
        run.api_points_reserved == 52 or f"{run.api_points_reserved} reserved by the budget" in out.getvalue()
    )


def test_progress_moves_during_every_step_of_a_full_sync(settings, simulator_factory, redis_conn):
    """Rooms finish in a full sync's last newest-first step (0 / 6 rooms until then), so the progress
    shown is the share of the estimated work: it rises during each step (a new user saw `0/40 (0 %)`
    for over a minute while a sync worked)."""
    server = simulator_factory(
        seed=9,
        rooms=6,
        sessions_per_room=40,
        participants_per_session=3,
        days=60,
        faults=FaultConfig(latency_ms=60),
    )
    configure(settings, server, RATE_BUDGET_POINTS_PER_MINUTE=6000, FETCH_CONCURRENCY=2, DETAIL_POLICY="none")
    run, _created = create_or_get_active_run("full", trigger="command", backend=InProcess())
    steps: dict[str, list[int]] = {}  # the step under way (the history complete from) -> percents seen
    texts = []

    def watch(current: SyncRun) -> None:
        text, percent = run_progress(current)
        if current.progress_done or estimate_for(current) is None:
            return  # a room finished (the last step's end), or no estimate yet
        step = str((current.checkpoint or {}).get("complete_from"))
        steps.setdefault(step, []).append(percent)
        texts.append((text, percent))

    done = execute_run(run.pk, backend=InProcess(), on_progress=watch)

    assert done.status == "succeeded" and done.progress_done == 6
    # The 7-day step, the 30-day step and the rest of the history: the percent rose in each.
    assert len(steps) == 3, steps
    assert all(max(seen) > min(seen) for seen in steps.values()), steps
    assert max(max(seen) for seen in steps.values()) >= 90, steps
    # The words say what the bar shows.
    text, percent = texts[len(texts) // 2]
    assert text == f"0 / 6 rooms, about {percent} % of the work", texts
