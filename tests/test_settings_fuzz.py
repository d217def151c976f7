"""Settings fuzzed (issue 26): any key of ``WHEREBY_INSIGHTS`` or of its ``ALERTS`` with a value of
any type or size gets a clear check message naming it, never an exception; and a value the checks
accept does not crash the code that reads it (the client, the budget, the alert settings)."""

from __future__ import annotations

import contextlib

import pytest
from django.core.checks import ERROR, run_checks
from django.test import override_settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from insights_app.alerts.settings import ALERT_DEFAULTS, alert_settings, masked, stale_after_minutes
from insights_app.checks.base import TAG
from insights_app.conf import DEFAULTS, get_settings, lookback_minutes
from insights_app.errors import ConfigurationError
from insights_app.site import site_key
from insights_app.whereby.budget.current import budget_points_per_minute, get_budget
from insights_app.whereby.client import WherebyClient
from tests.helpers.checks import GOOD

# Values that have broken parsers before: URL-like text, numbers past every column, dotted paths.
TRICKY_TEXT = st.sampled_from(
    [
        "", " ", "auto", "\x00", "\u202e", "é", "http://[::1", "https://[x]/", "http://", "https://h:99999/",
        "redis://[", "javascript:alert(1)", ".", "..", ".x", "x.", "a..b", "os.path\x00.join", "0 0 * * *",
        "* * * * * * *", "1e999", "nan", "-1",
    ]
)  # fmt: skip
TRICKY_NUMBERS = st.sampled_from(
    [0, -1, 2**31, 2**63, -(2**63), 10**30, 10**400, -(10**400), 1e300, -0.0]
) | (
    # ints past 4,300 digits, whose str() and repr() raise (built, as hypothesis shows its strategies)
    st.builds(pow, st.sampled_from([10, -10]), st.just(5001))
)
# The tricky values first and as likely as any other kind: drawn evenly, each branch has its share.
SCALARS = st.one_of(
    TRICKY_TEXT,
    TRICKY_NUMBERS,
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.binary(max_size=8),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=8) | TRICKY_TEXT, children, max_size=3)
    ),
    max_leaves=8,
)
SETTING_KEYS = st.sampled_from(sorted(set(DEFAULTS) - {"ALERTS"}))
ALERT_KEYS = st.sampled_from(sorted(ALERT_DEFAULTS))

pytestmark = pytest.mark.django_db
FUZZ = hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _messages() -> list:
    """Our check messages: running them must never raise, whatever the settings hold."""
    return [m for m in run_checks(tags=[TAG]) if (m.id or "").startswith("insights_app.")]


def _new_messages(given: dict) -> list:
    """The messages ``given`` adds to those of the good settings (each example its own override:
    the ``settings`` fixture would stack one per assignment)."""
    before = {(m.id, m.msg) for m in _messages()}
    with override_settings(WHEREBY_INSIGHTS=given):
        new = [m for m in _messages() if (m.id, m.msg) not in before]
        if not any(m.level >= ERROR for m in new):
            _read_everything()
    return new


def _read_everything() -> None:
    """What syncs, jobs and pages read from the settings; a ConfigurationError is a clear refusal."""
    conf = get_settings()
    conf.as_dict()
    lookback_minutes(conf)
    site_key()
    budget_points_per_minute()
    get_budget().figures()
    with contextlib.suppress(ConfigurationError):
        WherebyClient.from_settings().close()
    values = alert_settings()
    masked(values)
    stale_after_minutes(values)


@FUZZ
@given(key=SETTING_KEYS, value=VALUES)
def test_any_value_of_any_setting_is_named_by_the_checks_or_read_without_a_crash(good, key, value):
    new = _new_messages({**GOOD, key: value})
    for message in new:
        assert key in message.msg, f"{message.id} does not name {key}: {message.msg}"


@FUZZ
@given(key=ALERT_KEYS, value=VALUES)
def test_any_value_of_any_alert_setting_is_named_by_the_checks_or_read_without_a_crash(good, key, value):
    new = _new_messages({**GOOD, "ALERTS": {key: value}})
    for message in new:
        assert key in message.msg or "ALERTS" in message.msg, f"{message.id}: {message.msg}"


@FUZZ
@given(value=VALUES)
def test_any_value_of_alerts_itself_is_named_by_the_checks_or_read_without_a_crash(good, value):
    new = _new_messages({**GOOD, "ALERTS": value})
    for message in new:
        assert "ALERTS" in message.msg, f"{message.id}: {message.msg}"


# Each crashed the checks (ValueError, TypeError, OverflowError) or the client before the fix.
FOUND = [
    ("BASE_URL", "http://[::1"),
    ("BASE_URL", "https://[x]/"),
    ("BASE_URL", "https://h:99999/"),
    ("RATE_REDIS_URL", "redis://["),
    ("EXTERNAL_ID_RESOLVER", ".x"),
    ("EXTERNAL_ID_RESOLVER", ".."),
    ("PLAN_POINTS_PER_MINUTE", 10**400),
    ("RATE_BUDGET_POINTS_PER_MINUTE", 10**400),
    ("SCHEDULE_INTERVAL_MINUTES", 10**400),
    ("ALERTS", {"SITE_URL": "http://[::1"}),
    ("ALERTS", {"WEBHOOK_URL": "https://[x]/"}),
    ("ALERTS", {"WEBHOOK_TIMEOUT": 10**400}),
    ("ALERTS", {"CHECK_INTERVAL_SECONDS": -(10**400)}),
    ("ALERTS", {"STALE_AFTER_MINUTES": 10**400}),
    # Past 4,300 digits str() and repr() of an int raise: the message says its size instead.
    ("PLAN_POINTS_PER_MINUTE", 10**5000),
    ("ALERTS", {"WEBHOOK_TIMEOUT": 10**5000}),
    ("ALERTS", {"WEBHOOK_TIMEOUT": "x" * 10**5}),
]


def _case_id(key: str, value) -> str:
    """A test id (str() of an int past 4,300 digits raises)."""
    inner = next(iter(value.values())) if isinstance(value, dict) else value
    if isinstance(inner, int) and abs(inner).bit_length() > 1000:
        return f"{key}=int of {abs(inner).bit_length()} bits"
    return f"{key}={str(value)[:24]}"


@pytest.mark.parametrize(("key", "value"), FOUND, ids=[_case_id(k, v) for k, v in FOUND])
def test_values_the_fuzz_found_are_errors_that_name_the_setting(good, key, value):
    errors = [m for m in _new_messages({**GOOD, key: value}) if m.level >= ERROR]
    named = next(iter(value)) if isinstance(value, dict) else key
    assert errors and all(named in m.msg for m in errors), [m.msg for m in errors]


def test_a_resolver_link_that_is_no_url_is_dropped_not_a_crash():
    from insights_app.reports.labels import _safe_url

    assert _safe_url("http://[::1") == ""
    assert _safe_url("https://intranet.example/u/7") == "https://intranet.example/u/7"
