"""System checks: every documented id fires on the misconfiguration it names, with a hint, and only then."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.checks import ERROR, WARNING
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from insights_app.checks import connection, sharing, values
from tests.helpers.checks import GOOD, only, ours

DOCS = Path(__file__).resolve().parent.parent / "docs" / "checks.md"


def test_a_correct_configuration_raises_nothing(good):
    assert ours() == {}


def test_w001_missing_api_key_is_a_warning_with_a_hint(good):
    good.WHEREBY_INSIGHTS = {**GOOD, "API_KEY": None}
    message = only("W001")
    assert message.level == WARNING
    assert "API_KEY" in message.msg
    assert "WHEREBY_API_KEY" in message.hint


def test_w001_blank_api_key_counts_as_missing(good):
    good.WHEREBY_INSIGHTS = {**GOOD, "API_KEY": "   "}
    assert only("W001").level == WARNING


def test_e010_api_key_of_the_wrong_type_is_an_error_that_does_not_echo_it(good):
    good.WHEREBY_INSIGHTS = {**GOOD, "API_KEY": 1234567890}
    message = only("E010")
    assert message.level == ERROR
    assert "1234567890" not in message.msg + message.hint


def test_e001_django_rq_not_installed(good):
    good.INSTALLED_APPS = [app for app in good.INSTALLED_APPS if app != "django_rq"]
    message = only("E001")
    assert message.level == ERROR
    assert "django_rq" in message.hint


def test_e002_our_queue_missing_from_rq_queues(good):
    good.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:6379/14"}}
    message = only("E002")
    assert message.level == ERROR
    assert "whereby_insights" in message.msg
    assert "RQ_QUEUES" in message.hint


def test_e002_follows_a_renamed_queue(good, redis_conn, redis_url):
    good.WHEREBY_INSIGHTS = {**GOOD, "QUEUE": "insights_low"}
    assert "insights_low" in only("E002").msg
    # The test's own Redis database (flushed): the roll-call of sites on a queue is kept for a day, and
    # another leg or checkout running this test on a shared database would be another site (W005).
    good.RQ_QUEUES = {**good.RQ_QUEUES, "insights_low": {"URL": redis_url}}
    assert ours() == {}


def test_e003_plain_http_outside_debug(good):
    good.WHEREBY_INSIGHTS = {**GOOD, "BASE_URL": "http://api.whereby.dev/v1"}
    message = only("E003")
    assert message.level == ERROR
    assert "https" in message.hint


def test_e003_plain_http_is_accepted_in_debug(good):
    good.DEBUG = True
    good.WHEREBY_INSIGHTS = {**GOOD, "BASE_URL": "http://api.whereby.dev/v1"}
    assert ours() == {}


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8765/v1", "http://localhost:8765/v1", "http://[::1]:8765/v1", "http://127.0.0.2/v1"],
)
def test_e003_plain_http_to_this_machine_is_accepted_for_the_simulator(good, url):
    good.WHEREBY_INSIGHTS = {**GOOD, "BASE_URL": url}
    assert ours() == {}


@pytest.mark.parametrize("url", ["api.whereby.dev/v1", "ftp://api.whereby.dev/v1", "https://", 42])
def test_e004_base_url_that_is_not_a_url(good, url):
    good.WHEREBY_INSIGHTS = {**GOOD, "BASE_URL": url}
    assert only("E004").level == ERROR


def test_w002_rate_budget_above_the_plan(good):
    good.WHEREBY_INSIGHTS = {**GOOD, "PLAN_POINTS_PER_MINUTE": 100, "RATE_BUDGET_POINTS_PER_MINUTE": 150}
    message = only("W002")
    assert message.level == WARNING
    assert "150" in message.msg and "100" in message.msg


def test_w002_a_budget_equal_to_the_plan_is_allowed(good):
    good.WHEREBY_INSIGHTS = {**GOOD, "PLAN_POINTS_PER_MINUTE": 300, "RATE_BUDGET_POINTS_PER_MINUTE": 300}
    assert ours() == {}


def test_w002_an_explicit_budget_above_the_plan_the_api_reports(good, redis_conn):
    """With the plan on "auto", the plan the API last reported is what an explicit budget is held to."""
    from insights_app.whereby.budget.current import get_budget

    good.WHEREBY_INSIGHTS = {**GOOD, "RATE_BUDGET_POINTS_PER_MINUTE": 150}
    assert ours() == {}  # no plan reported yet: nothing to compare with
    get_budget().answered("/insights/rooms", 200, {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "97"})
    message = only("W002")
    assert "150" in message.msg and "the plan the API reports" in message.msg and "100" in message.msg
    good.WHEREBY_INSIGHTS = {**GOOD, "RATE_BUDGET_POINTS_PER_MINUTE": "auto"}
    assert ours() == {}


def test_budget_settings_accept_auto(good):
    good.WHEREBY_INSIGHTS = {
        **GOOD,
        "PLAN_POINTS_PER_MINUTE": "auto",
        "RATE_BUDGET_POINTS_PER_MINUTE": "auto",
    }
    assert ours() == {}


@pytest.mark.parametrize("key", ["DATA_LAG_MINUTES", "WEBHOOK_SYNC_DELAY_MINUTES"])
@pytest.mark.parametrize("value", ["auto", 0, 12, 12.5, 24 * 60])
def test_lag_settings_accept_auto_or_a_number_of_minutes(good, key, value):
    good.WHEREBY_INSIGHTS = {**GOOD, key: value}
    assert ours() == {}


@pytest.mark.parametrize("key", ["DATA_LAG_MINUTES", "WEBHOOK_SYNC_DELAY_MINUTES"])
@pytest.mark.parametrize("value", ["Auto", "15", -1, 24 * 60 + 1, None, float("nan")])
def test_e007_lag_settings_refuse_anything_else(good, key, value):
    good.WHEREBY_INSIGHTS = {**GOOD, key: value}
    message = only("E007")
    assert message.level == ERROR
    assert key in message.msg


@pytest.mark.parametrize("value", [0, 1.5, "half"])
def test_e007_rate_budget_share_out_of_range(good, value):
    good.WHEREBY_INSIGHTS = {**GOOD, "RATE_BUDGET_SHARE": value}
    assert "RATE_BUDGET_SHARE" in only("E007").msg


def test_e005_unknown_detail_policy(good):
    good.WHEREBY_INSIGHTS = {**GOOD, "DETAIL_POLICY": "some"}
    message = only("E005")
    assert message.level == ERROR
    for policy in ("all", "recent", "none"):
        assert repr(policy) in message.hint


@pytest.mark.parametrize("policy", ["all", "recent", "none"])
def test_e005_known_detail_policies_pass(good, policy):
    good.WHEREBY_INSIGHTS = {**GOOD, "DETAIL_POLICY": policy}
    assert ours() == {}


def test_e006_timezone_support_off(good):
    good.USE_TZ = False
    message = only("E006")
    assert message.level == ERROR
    assert "USE_TZ = True" in message.hint


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("PAGE_SIZE", 0),
        ("PAGE_SIZE", 101),
        ("PAGE_SIZE", "100"),
        ("PAGE_SIZE", True),
        ("READ_TIMEOUT", 0),
        ("MAX_RETRIES", -1),
        ("DETAIL_RECENT_DAYS", 2.5),
        ("SCHEDULE_INTERVAL_MINUTES", 0),
        ("DEGRADED_PACKET_LOSS_PERCENT", 150),
        ("DEGRADED_MIN_SECONDS", -1),
        # With PLAN "auto" the check reads the plan Redis last heard from the API.
        pytest.param("RATE_BUDGET_POINTS_PER_MINUTE", 0, marks=pytest.mark.integration),
    ],
)
def test_e007_wrong_type_or_out_of_range(good, key, value):
    good.WHEREBY_INSIGHTS = {**GOOD, key: value}
    message = only("E007")
    assert message.level == ERROR
    assert key in message.msg


def test_e007_page_size_bounds_are_inclusive(good):
    for size in (1, 100):
        good.WHEREBY_INSIGHTS = {**GOOD, "PAGE_SIZE": size}
        assert ours() == {}


def test_e013_unknown_packet_loss_unit(good):
    good.WHEREBY_INSIGHTS = {**GOOD, "PACKET_LOSS_UNIT": "permille"}
    message = only("E013")
    assert message.level == ERROR
    assert "'percent'" in message.hint


@pytest.mark.parametrize("unit", ["auto", "fraction", "percent"])
def test_e013_known_packet_loss_units_pass(good, unit):
    good.WHEREBY_INSIGHTS = {**GOOD, "PACKET_LOSS_UNIT": unit}
    assert ours() == {}


def test_e008_empty_queue_name(good):
    good.WHEREBY_INSIGHTS = {**GOOD, "QUEUE": ""}
    assert only("E008").level == ERROR


def test_e009_settings_that_are_not_a_dict(good):
    good.WHEREBY_INSIGHTS = [("API_KEY", "x")]
    assert only("E009").level == ERROR
    # The other checks stay quiet instead of crashing on the bad shape.
    assert set(ours()) == {"insights_app.E009"}


def test_w003_unknown_key_suggests_the_one_meant(good):
    good.WHEREBY_INSIGHTS = {**GOOD, "PAGE_SIZ": 50}
    message = only("W003")
    assert message.level == WARNING
    assert "PAGE_SIZ" in message.msg
    assert "PAGE_SIZE" in message.hint


def test_e011_external_id_resolver_not_importable(good):
    good.WHEREBY_INSIGHTS = {**GOOD, "EXTERNAL_ID_RESOLVER": "nowhere.to_be.found"}
    message = only("E011")
    assert message.level == ERROR
    assert "nowhere.to_be.found" in message.msg


def test_e011_external_id_resolver_that_is_not_callable(good):
    good.WHEREBY_INSIGHTS = {**GOOD, "EXTERNAL_ID_RESOLVER": "insights_app.conf.DEFAULTS"}
    assert "not callable" in only("E011").msg


def test_e011_a_function_object_instead_of_its_path(good):
    # The reports import the hook by path (labels.py), so an object would silently do nothing.
    good.WHEREBY_INSIGHTS = {**GOOD, "EXTERNAL_ID_RESOLVER": str.upper}
    assert "not a dotted path" in only("E011").msg


def test_e011_an_importable_callable_path_passes(good):
    good.WHEREBY_INSIGHTS = {**GOOD, "EXTERNAL_ID_RESOLVER": "django.utils.html.escape"}
    assert ours() == {}


def test_e012_nightly_cron_that_is_not_cron(good):
    good.WHEREBY_INSIGHTS = {**GOOD, "NIGHTLY_FULL_SYNC_CRON": "every night"}
    assert only("E012").level == ERROR
    good.WHEREBY_INSIGHTS = {**GOOD, "NIGHTLY_FULL_SYNC_CRON": "30 2 * * *"}
    assert ours() == {}


def test_check_functions_can_be_called_directly(good):
    good.USE_TZ = False
    assert [m.id for m in values.check_timezone_support()] == ["insights_app.E006"]


@pytest.mark.django_db  # a plain `check` includes Django's model checks, which may query the database
def test_manage_py_check_fails_on_our_errors_and_names_the_id(good):
    good.WHEREBY_INSIGHTS = {**GOOD, "DETAIL_POLICY": "everything"}
    with pytest.raises(SystemCheckError, match=r"insights_app\.E005"):
        call_command("check")
    with pytest.raises(SystemCheckError, match=r"insights_app\.E005"):
        call_command("check", "--tag", "insights_app")


def test_every_numeric_default_is_range_checked():
    # A new numeric setting without a rule would let a typo like "10" (a string) through silently.
    from insights_app.conf import DEFAULTS

    numeric = {k for k, v in DEFAULTS.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    auto = {  # or "auto"
        "PLAN_POINTS_PER_MINUTE",
        "RATE_BUDGET_POINTS_PER_MINUTE",
        "LOOKBACK_MINUTES",
        "DATA_LAG_MINUTES",
        "WEBHOOK_SYNC_DELAY_MINUTES",
    }
    assert numeric | auto == {rule[0] for rule in values.NUMERIC_RULES}


def test_every_setting_is_documented():
    from insights_app.conf import DEFAULTS

    text = (DOCS.parent / "settings.md").read_text()
    assert [key for key in DEFAULTS if f"| `{key}` |" not in text] == []


def test_every_id_the_code_can_raise_is_documented():
    from insights_app.alerts import checks as alert_checks
    from insights_app.webhooks import checks as webhook_checks

    source = "".join(
        Path(m.__file__).read_text() for m in (connection, sharing, values, alert_checks, webhook_checks)
    )
    in_code = set(re.findall(r'_id\("([EW]\d{3})"\)', source))
    documented = set(re.findall(r"insights_app\.([EW]\d{3})", DOCS.read_text()))
    assert in_code, "no ids found in the checks' code"
    assert in_code == documented
