"""The typed settings table (conf.SETTINGS) and the run-time failures it turns into check errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from django.core.checks import ERROR

from insights_app.checks.values import NUMERIC_RULES
from insights_app.conf import DEFAULTS, DETAIL_POLICIES, SETTINGS, SETTINGS_BY_NAME
from insights_app.models import PacketLossUnit
from tests.helpers.checks import GOOD, ours

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _shown(default: object) -> str:
    """A default as docs/settings.md writes it."""
    return json.dumps(default) if isinstance(default, str | list) else repr(default)


def test_every_setting_is_documented_with_its_default():
    text = (DOCS / "settings.md").read_text()
    missing = [s.name for s in SETTINGS if f"| `{s.name}` | `{_shown(s.default)}` |" not in text]
    assert missing == []


def test_every_setting_has_a_one_line_doc_and_a_valid_default():
    for spec in SETTINGS:
        assert spec.doc and "\n" not in spec.doc, spec.name
        assert spec.problem(spec.default) is None, spec.name
        if spec.choices:
            assert spec.default in spec.choices, spec.name


def test_defaults_and_choices_are_read_from_the_one_table():
    assert {s.name: s.default for s in SETTINGS} == DEFAULTS
    assert DETAIL_POLICIES == ("all", "recent", "none")
    assert {rule[0] for rule in NUMERIC_RULES} == {s.name for s in SETTINGS if s.is_number}
    # The stored unit enum and the setting agree on the concrete units ("auto" only decides per item).
    concrete = set(SETTINGS_BY_NAME["PACKET_LOSS_UNIT"].choices) - {"auto"}
    assert concrete == {PacketLossUnit.FRACTION.value, PacketLossUnit.PERCENT.value}


@pytest.mark.parametrize(
    ("key", "value", "said"),
    [
        ("JOB_RETRY_INTERVALS", "30", "list of seconds"),
        ("JOB_RETRY_INTERVALS", ["a"], "whole seconds"),
        ("JOB_RETRY_INTERVALS", [-1], "from 0"),
        ("JOB_RETRY_INTERVALS", [30, 1.5], "whole seconds"),
        ("READ_TIMEOUT", math.nan, "finite"),
        ("READ_TIMEOUT", math.inf, "finite"),
        ("CONNECT_TIMEOUT", 1e308, "at most"),
        ("DEGRADED_PACKET_LOSS_PERCENT", math.nan, "finite"),
        ("ABANDONED_AFTER_SECONDS", 1e308, "at most"),
    ],
)
def test_values_that_used_to_fail_only_at_run_time_are_e007(good, key, value, said):
    good.WHEREBY_INSIGHTS = {**GOOD, key: value}
    found = ours().get("insights_app.E007", [])
    assert len(found) == 1, ours()
    assert found[0].level == ERROR
    assert key in found[0].msg and said in found[0].msg
    assert SETTINGS_BY_NAME[key].doc in found[0].hint


@pytest.mark.parametrize("value", ["", "two words", "x" * 65, 42, "stagé", "a:b"])
def test_e021_a_site_key_that_cannot_name_jobs_and_keys(good, value):
    good.WHEREBY_INSIGHTS = {**GOOD, "SITE_KEY": value}
    [message] = ours().get("insights_app.E021", [])
    assert message.level == ERROR and "SITE_KEY" in message.msg and "staging" in message.hint


@pytest.mark.parametrize("value", [None, "staging", "tenant-2.prod_eu"])
def test_site_keys_that_work_pass(good, value):
    good.WHEREBY_INSIGHTS = {**GOOD, "SITE_KEY": value}
    assert "insights_app.E021" not in ours()


@pytest.mark.parametrize("intervals", [[], [0], [30, 120], (5, 10)])
def test_retry_intervals_that_work_pass(good, intervals):
    good.WHEREBY_INSIGHTS = {**GOOD, "JOB_RETRY_INTERVALS": intervals}
    assert ours() == {}


@pytest.mark.parametrize("url", ["notaurl", "http://localhost:6379/0", 6379])
def test_e015_rate_redis_url_that_is_not_redis(good, url):
    good.WHEREBY_INSIGHTS = {**GOOD, "RATE_REDIS_URL": url}
    found = ours().get("insights_app.E015", [])
    assert len(found) == 1 and found[0].hint
    assert found[0].level == ERROR


def test_e015_never_shows_a_redis_password(good):
    good.WHEREBY_INSIGHTS = {**GOOD, "RATE_REDIS_URL": "http://:hunter2@cache:6379/0"}
    (message,) = ours()["insights_app.E015"]
    assert "hunter2" not in message.msg + message.hint


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/2", "rediss://:pw@cache:6380/0", "unix:///tmp/r.sock"]
)
def test_e015_redis_urls_pass(good, url):
    good.WHEREBY_INSIGHTS = {**GOOD, "RATE_REDIS_URL": url}
    assert ours() == {}


@pytest.mark.parametrize(
    "url", ["https://api.whereby.dev/v1?x=1", "https://api.whereby.dev/v1#top", "https://api.whereby.dev/v1?"]
)
def test_e004_base_url_with_a_query_or_fragment(good, url):
    good.WHEREBY_INSIGHTS = {**GOOD, "BASE_URL": url}
    (message,) = ours()["insights_app.E004"]
    assert "query or fragment" in message.msg and message.hint


@pytest.mark.parametrize("key", ["clé-secrète-123", "“quoted-key”", "key-with-newline\n", "two words"])
def test_e014_api_key_that_cannot_be_sent_in_a_header(good, key):
    good.WHEREBY_INSIGHTS = {**GOOD, "API_KEY": key}
    (message,) = ours()["insights_app.E014"]
    assert message.level == ERROR and message.hint
    assert key.strip() not in message.msg + message.hint
