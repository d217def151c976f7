"""The budget's promise over the space of APIs it may meet (issue 22): whatever the limiter (fixed
window, sliding window, token bucket), the costs per endpoint (1-10), the product's spend (pattern and
rate, up to a third of the limit), the number of worker processes (1 to 8) and rate headers missing,
unreadable or lying, none of it told to the app: our points in any rolling 60 s of the simulator's
own ledger stay within the share (2 % for timing), no 429 once the run is under way, and the run
ends or stops when cancelled (no deadlock). Real Redis, real HTTP, real RQ workers."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.limiter_harness import Scenario, measure_sync

# Each example is a real sync of up to SECONDS: a few in CI (derandomized: the same ones every run),
# many more under the "long" profile.
EXAMPLES = 40 if os.environ.get("INSIGHTS_HYPOTHESIS_PROFILE") == "long" else 5
SECONDS = 30.0
# A small organisation, so the examples' syncs have more work than their time.
ORG = {
    "seed": 5,
    "rooms": 6,
    "sessions_per_room": 6,
    "participants_per_session": 3,
    "days": 20,
    "max_samples": 40,
}
# 429s in the first seconds are allowed: a cost is not known before its first answer.
SETTLING_SECONDS = 10.0

scenarios = st.builds(
    Scenario,
    limiter=st.sampled_from(["fixed", "sliding", "bucket"]),
    points_per_minute=st.sampled_from([120, 600, 3000]),
    costs=st.fixed_dictionaries(
        {name: st.integers(1, 10) for name in ("rooms", "room-sessions", "participants", "participant")}
    ),
    background_points_per_minute=st.sampled_from([0.0, 0.15, 0.33]),  # x the limit (below)
    background_pattern=st.sampled_from(["even", "random", "bursty"]),
    rate_headers=st.sampled_from(["normal", "missing", "nonsense", "lying"]),
    rate_header_share=st.sampled_from([0.05, 0.2]),
    workers=st.integers(0, 8),
    seconds=st.just(SECONDS),
    latency_ms=st.sampled_from([0, 50]),
    org=st.just(ORG),
)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios)
def test_the_share_holds_whatever_the_api_does(redis_url, scenario):
    scenario = Scenario(
        **{
            **scenario.__dict__,
            "background_points_per_minute": scenario.background_points_per_minute
            * scenario.points_per_minute,
        }
    )
    measured = measure_sync(scenario)
    print(  # with -s: what each example was and how close it came
        f"{scenario.limiter} {scenario.points_per_minute}/min workers={scenario.workers} "
        f"{scenario.background_pattern} {scenario.background_points_per_minute:g} headers={scenario.rate_headers} "
        f"costs={scenario.costs}: busiest {measured.busiest}/{measured.share:g}, 429s {measured.throttled}"
    )
    assert measured.busiest <= measured.share * 1.02, (
        f"{measured.busiest} points in a rolling minute for a share of {measured.share:g} ({scenario})"
    )
    late = [s for s in measured.throttle_times if s > measured.started + SETTLING_SECONDS]
    assert late == [], f"{len(late)} 429s after the first {SETTLING_SECONDS:g} s ({scenario})"
    assert measured.finished or (measured.stopped_within is not None and measured.stopped_within < 30), (
        f"the run did not stop within 30 s of its cancel ({scenario})"
    )
    assert measured.status in ("succeeded", "partial", "cancelled"), measured.status
