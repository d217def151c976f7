"""The data lag is learned from what the API showed (``sync.lag``): a cautious start, a probe that narrows
it down, the learned lag as the first look and the lookback, and an explicit number that wins."""

from __future__ import annotations

from datetime import timedelta

import pytest

from insights_app.sync import lag

pytestmark = pytest.mark.integration

MINUTE = 60.0


@pytest.fixture
def auto(settings, redis_conn):
    settings.WHEREBY_INSIGHTS = {
        "QUEUE": "whereby_insights",
        "SCHEDULE_INTERVAL_MINUTES": 15,
        "WEBHOOK_SECRET": "whsec-lag-learning-test",  # the lag is learned from webhooks
    }
    return settings


def minutes(delta: timedelta | None) -> float | None:
    return None if delta is None else round(delta.total_seconds() / MINUTE, 2)


def test_before_anything_is_observed_the_first_look_and_the_lookback_are_cautious(auto):
    assert lag.figures().learned is None
    assert lag.first_look() == (lag.CAUTIOUS_FIRST_LOOK, False)
    assert lag.lookback_minutes() == 15 + 15


def test_a_coarse_observation_bounds_the_lag_and_the_next_session_is_probed_from_the_miss(auto):
    # Looked at 7.5 minutes after the end: still running; at 12.5: ended.
    lag.observe(timedelta(minutes=7.5), timedelta(minutes=12.5))
    seen = lag.figures()
    assert (seen.sessions, seen.close, minutes(seen.learned)) == (1, 0, 12.5)
    assert seen.needs_probe
    first, probe = lag.first_look()
    assert (minutes(first), probe) == (10.0, True)  # half-way from the miss to the hit


def test_close_observations_decide_the_lag_and_a_check_on_time_confirms_it(auto):
    lag.observe(timedelta(minutes=7.5), timedelta(minutes=20.5))  # coarse, from the cautious start
    lag.observe(timedelta(minutes=11.2), timedelta(minutes=12.2))
    lag.observe(timedelta(minutes=11.6), timedelta(minutes=12.6))
    for _ in range(10):  # first looks at the learned lag, all hits: they only say "at most"
        lag.observe(None, timedelta(minutes=12.7))
    seen = lag.figures()
    assert (seen.sessions, seen.close) == (13, 2)
    assert minutes(seen.learned) == 12.1  # the middle of (11.6, 12.6]
    assert not seen.needs_probe
    assert lag.first_look() == (seen.learned, False)
    assert lag.lookback_minutes() == pytest.approx(12.1 + 15)


def test_an_early_look_that_found_the_session_ended_lowers_the_lag(auto):
    for hi in (12.2, 12.6):
        lag.observe(timedelta(minutes=hi - 1), timedelta(minutes=hi))
    for _ in range(3):
        lag.observe(None, timedelta(minutes=9.5))  # probes 3 minutes early: already ended
    assert minutes(lag.figures().learned) == 12.1  # a few sessions: the p90 is still the close ones'
    for _ in range(17):
        lag.observe(None, timedelta(minutes=9.5))
    assert minutes(lag.figures().learned) == 9.5


def test_bounds_alone_are_narrowed_down_by_halves(auto):
    lag.observe(timedelta(minutes=12.3), timedelta(minutes=20.3))  # the cautious looks: 12 and 20 min
    assert minutes(lag.first_look()[0]) == 16.3
    lag.observe(None, timedelta(minutes=16.3))  # the probe found it ended at once
    assert minutes(lag.figures().learned) == 16.3
    assert minutes(lag.first_look()[0]) == 14.3


def test_a_session_found_ended_at_the_first_look_sends_the_next_from_the_bottom(auto):
    lag.observe(None, timedelta(minutes=10.4))  # the cautious first look: ended already
    assert lag.first_look() == (lag.FIRST_STEP, False)  # then 1, 2, 3, 5 minutes apart
    lag.observe(timedelta(minutes=4.2), timedelta(minutes=7.2))  # ... found between 4.2 and 7.2
    assert lag.first_look() == (timedelta(minutes=5.7), True)  # half-way, then every minute


def test_the_learned_lag_is_bounded_and_only_recent_sessions_count(auto):
    for _ in range(lag.KEEP):
        lag.observe(timedelta(minutes=179), timedelta(minutes=180))
    assert lag.figures().learned == lag.MAX_LAG
    for _ in range(lag.KEEP):
        lag.observe(timedelta(minutes=4), timedelta(minutes=5))
    assert minutes(lag.figures().learned) == 4.5
    assert lag.figures().sessions == lag.KEEP


@pytest.mark.parametrize("setting", ["WEBHOOK_SYNC_DELAY_MINUTES", "DATA_LAG_MINUTES"])
def test_an_explicit_number_wins_over_the_lag_observed(auto, setting):
    lag.observe(timedelta(minutes=4), timedelta(minutes=5))
    auto.WHEREBY_INSIGHTS = {**auto.WHEREBY_INSIGHTS, setting: 9}
    assert not lag.follows(setting)
    if setting == "WEBHOOK_SYNC_DELAY_MINUTES":
        assert lag.first_look() == (timedelta(minutes=9), False)
        assert lag.lookback_minutes() == 4.5 + 15
    else:
        assert lag.data_lag() == timedelta(minutes=9)
        assert lag.lookback_minutes() == 9 + 15
        assert minutes(lag.first_look()[0]) == 4.5


def test_with_webhooks_off_the_lookback_is_cautious_whatever_was_learned_before(auto):
    lag.observe(timedelta(minutes=4), timedelta(minutes=5))
    assert lag.lookback_minutes() == 4.5 + 15
    auto.WHEREBY_INSIGHTS = {**auto.WHEREBY_INSIGHTS, "WEBHOOK_SECRET": None}
    assert lag.data_lag() == lag.CAUTIOUS_DATA_LAG
    assert lag.lookback_minutes() == 15 + 15
