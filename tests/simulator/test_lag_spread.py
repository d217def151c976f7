"""The simulator's data lag as a spread: each session's own lag, seeded, with rare long outliers."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from insights_app.management.commands.insights_simulator import Command as SimulatorCommand
from insights_app.simulator import OrgSpec, generate_organisation
from insights_app.simulator.timefmt import parse_instant

NOW = "2026-03-10T12:00:00Z"


def spec(**options) -> OrgSpec:
    base = {"seed": 5, "rooms": 40, "sessions_per_room": 12, "participants_per_session": 3, "days": 2}
    return OrgSpec(now=NOW, max_samples=10, live=True, **{**base, **options})


def observed_lags(org, minutes: int) -> dict[str, float]:
    """Minutes from each session's end to the first minute the API shows it ended, over ``minutes``."""
    start = org.now_ms
    ends: dict[str, int] = {}
    first_shown: dict[str, float] = {}
    for _ in range(minutes):
        org.advance(60)
        for room in org.room_items():
            for item in org.session_items(room["roomName"]):
                sid = item["roomSessionId"]
                if item["endedAt"] and sid not in first_shown:
                    ends[sid] = parse_instant(item["endedAt"])
                    first_shown[sid] = (org.now_ms - ends[sid]) / 60_000
    # Only sessions that ended after the clock started moving have a measured lag.
    return {sid: lag for sid, lag in first_shown.items() if ends[sid] > start}


def test_each_session_has_its_own_lag_within_the_spread_and_the_same_every_run():
    lags = observed_lags(generate_organisation(spec(lag_minutes=10, lag_spread_minutes=5)), 90)
    assert len(lags) >= 10
    assert all(10 <= lag < 16 for lag in lags.values()), sorted(lags.values())
    assert max(lags.values()) - min(lags.values()) >= 3  # a spread, not one fixed lag
    again = observed_lags(generate_organisation(spec(lag_minutes=10, lag_spread_minutes=5)), 90)
    assert again == lags
    other_seed = observed_lags(generate_organisation(spec(seed=6, lag_minutes=10, lag_spread_minutes=5)), 90)
    assert other_seed != lags


def test_participants_and_totals_follow_the_sessions_own_lag():
    org = generate_organisation(spec(lag_minutes=10, lag_spread_minutes=5))
    for _ in range(40):
        org.advance(60)
        for room in org.room_items():
            for item in org.session_items(room["roomName"]):
                people = org.participant_items(item["roomSessionId"])
                if item["endedAt"] is not None:
                    assert all(p["leftAt"] is not None for p in people)
                    assert item["endedAt"] <= org.now.isoformat()


def test_a_share_of_sessions_waits_the_outlier_lag():
    lags = observed_lags(
        generate_organisation(
            spec(lag_minutes=10, lag_spread_minutes=5, lag_outlier_share=0.2, lag_outlier_minutes=45)
        ),
        120,
    )
    long = [lag for lag in lags.values() if lag >= 45]
    usual = [lag for lag in lags.values() if lag < 16]
    assert long and usual and len(long) + len(usual) == len(lags)
    assert all(45 <= lag < 46 for lag in long)


def test_without_a_spread_every_session_has_the_fixed_lag():
    lags = observed_lags(generate_organisation(spec(lag_minutes=12)), 60)
    assert lags and all(12 <= lag < 13 for lag in lags.values())


def test_command_flags_reach_the_spec():
    command = SimulatorCommand()
    parser = command.create_parser("manage.py", "insights_simulator")
    flags = ["--rooms", "3", "--lag-minutes", "10", "--lag-spread-minutes", "5"]
    flags += ["--lag-outlier-share", "0.05", "--lag-outlier-minutes", "90"]
    org_spec = command.build_server(vars(parser.parse_args(flags))).organisation.spec
    assert (org_spec.lag_minutes, org_spec.lag_spread_minutes) == (10, 5)
    assert (org_spec.lag_outlier_share, org_spec.lag_outlier_minutes) == (0.05, 90)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--lag-spread-minutes", "-1"], "lag_spread_minutes"),
        (["--lag-outlier-share", "1.5"], "lag_outlier_share"),
        (
            ["--lag-minutes", "10", "--lag-outlier-share", "0.1", "--lag-outlier-minutes", "5"],
            "lag_outlier_minutes",
        ),
    ],
)
def test_bad_lag_flags_are_named(flags, message):
    with pytest.raises(CommandError, match=message):
        call_command("insights_simulator", "--rooms", "2", *flags)
