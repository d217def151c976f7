"""The one reader of the API's rate headers: figures, reset instants, Retry-After, hostile values."""

from __future__ import annotations

import email.utils
import time

import pytest

from insights_app.whereby.rate_headers import NO_HEADERS, RateHeaders, instant, number, seconds_until


def test_an_answers_rate_headers_are_read_once_into_figures():
    rate = RateHeaders.read(
        {"X-RateLimit-Limit": "6000", "X-RateLimit-Remaining": "5990.0", "X-RateLimit-Reset": "r-1"}
    )

    assert (rate.limit, rate.remaining, rate.reset, rate.retry_after) == (6000.0, 5990.0, "r-1", None)
    assert rate.complete and not NO_HEADERS.complete


@pytest.mark.parametrize("value", ["", "abc", "-1", "nan", "inf", "1e999", "9" * 400, None])
def test_a_figure_that_is_not_a_finite_non_negative_number_is_unknown(value):
    assert number(value) is None
    assert not RateHeaders.read({"X-RateLimit-Limit": value or "", "X-RateLimit-Remaining": "5"}).complete


def test_a_reset_is_epoch_seconds_a_delay_or_an_http_date():
    now = 1_800_000_000.0
    assert instant("1800000042", now) == 1_800_000_042
    assert instant("42", now) == now + 42
    assert instant(email.utils.formatdate(now + 60, usegmt=True), now) == now + 60
    for hostile in ("", None, "Mon, 99 Foo 0000", "-5", "nan", "\x00"):
        assert instant(hostile, now) is None


def test_retry_after_is_a_delay_even_when_large_and_a_date_is_counted_from_now():
    assert RateHeaders.read({"Retry-After": "7"}).retry_after == 7
    assert RateHeaders.read({"Retry-After": "2000000000"}).retry_after == 2_000_000_000
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= RateHeaders.read({"Retry-After": later}).retry_after <= 31
    assert RateHeaders.read({"Retry-After": "soon"}).retry_after is None
    assert seconds_until(email.utils.formatdate(time.time() - 3600, usegmt=True)) == 0.0
