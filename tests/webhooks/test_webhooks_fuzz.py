"""Fuzzing the webhook intake (issue 26): any header, any signed body -> a 4xx or a stored, sanitised event.

Run on SQLite and on PostgreSQL (``DATABASE_URL``): PostgreSQL refuses values SQLite accepts.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from insights_app.models import WebhookEvent, WebhookOutcome
from insights_app.simulator.webhooks import sign
from insights_app.webhooks import effects
from insights_app.webhooks.events import JOINED, LEFT, SESSION_ENDED, SESSION_STARTED
from insights_app.webhooks.signature import SignatureError, parse_header, verify
from tests.helpers.webhooks import SECRET, WEBHOOK_PATH

pytestmark = pytest.mark.django_db

FIXTURES_OK = hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture])

# Hostile text: NUL, lone surrogates, bidi overrides, markup, very long.
hostile_text = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(["\x00", "\ud800", "\udfff", "\u202e", "<", "&", "a", "é", "😀"])),
    st.just("x" * 5000),
)
# Large: up to past the 64 KiB cap once escaped (a NUL is six bytes as \u0000).
large_text = st.builds(
    lambda ch, n: ch * n, st.sampled_from(["\x00", "\ud800", "é", "a"]), st.integers(1000, 12_000)
)
# Numbers a JSON encoder may emit, written as their literals (so NaN, Infinity, 1e999 reach us as sent).
number_literal = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e300", "9" * 5000, "-0", "0.0"]),
)
# Dates: any calendar instant at any offset up to a day, or text that is not a date at all.
date_literal = st.one_of(
    st.builds(
        lambda moment, minutes: moment.replace(tzinfo=dt_timezone(timedelta(minutes=minutes))).isoformat(),
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)),
        st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1),
    ),
    st.sampled_from(["0001-01-01T00:30:00+01:00", "9999-12-31T23:00:00-05:00", "2100-01-01T00:00:00Z"]),
    hostile_text,
)


def literal(text: str) -> str:
    """A JSON string literal; lone surrogates escaped as ``\\udXXX`` the way a lax encoder sends them."""
    return json.dumps(text)


def leaf() -> st.SearchStrategy[str]:
    return st.one_of(
        number_literal,
        hostile_text.map(literal),
        st.sampled_from(["true", "false", "null"]),
        date_literal.map(literal),
    )


json_value = st.recursive(
    leaf(),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda items: "[" + ",".join(items) + "]"),
        st.dictionaries(hostile_text.map(literal), inner, max_size=4).map(
            lambda d: "{" + ",".join(f"{k}:{v}" for k, v in d.items()) + "}"
        ),
    ),
    max_leaves=20,
)
# Fields the app reads, given hostile values; any other field too.
known_fields = st.fixed_dictionaries(
    {},
    optional={
        "roomName": st.one_of(hostile_text.map(literal), json_value),
        "roomSessionId": st.one_of(hostile_text.map(literal), json_value),
        "participantId": st.one_of(hostile_text.map(literal), json_value),
        "displayName": st.one_of(hostile_text.map(literal), json_value),
        "externalId": st.one_of(hostile_text.map(literal), json_value),
        "roleName": st.one_of(hostile_text.map(literal), json_value),
        "numClients": st.one_of(number_literal, json_value),
        "numClientsByRoleName": json_value,
        "isDialIn": json_value,
        "metadata": st.one_of(large_text.map(literal), json_value),
    },
)


@st.composite
def event_bodies(draw: Any) -> bytes:
    """A signed-able delivery: a plausible event shell around hostile data, or nesting of any depth."""
    kind = draw(st.sampled_from([JOINED, LEFT, SESSION_STARTED, SESSION_ENDED, None]))
    if kind is None:  # one in five: any type at all
        kind = draw(hostile_text)
    fields = draw(known_fields)
    fields.update(draw(st.dictionaries(hostile_text.map(literal), json_value, max_size=3)))
    data = (
        "{" + ",".join(f"{k if k.startswith(chr(34)) else literal(k)}:{v}" for k, v in fields.items()) + "}"
    )
    depth = draw(st.sampled_from([0, 0, 0, 1, 2]))
    if depth == 1:  # around the limit of 32 levels
        depth = draw(st.integers(1, 40))
    elif depth == 2:  # far past it, up to past Python's recursion limit
        depth = draw(st.integers(1, 20_000))
    if depth:
        data = "[" * depth + data + "]" * depth
    created = draw(st.one_of(date_literal.map(literal), json_value))
    rest = f'"type":{literal(kind)},"createdAt":{created},"data":{data}}}'
    # Mostly an id of its own (the digest of the rest: only the very same event repeats it), else hostile.
    unique = literal(hashlib.sha256(rest.encode("utf-8", "surrogatepass")).hexdigest())
    choice = draw(st.integers(min_value=0, max_value=4))
    event_id = unique if choice < 3 else draw(st.one_of(hostile_text.map(literal), json_value))
    return f'{{"id":{event_id},{rest}'.encode("utf-8", "surrogatepass")


@pytest.fixture
def client(settings, redis_conn) -> Client:
    settings.WHEREBY_INSIGHTS = {
        **settings.WHEREBY_INSIGHTS,
        "WEBHOOK_SECRET": SECRET,
        "DETAIL_POLICY": "recent",
        "WEBHOOK_SYNC_DELAY_MINUTES": 15,
    }
    return Client(raise_request_exception=False)


def post(client: Client, body: bytes, header: str) -> Any:
    return client.post(
        WEBHOOK_PATH, data=body, content_type="application/json", HTTP_WHEREBY_SIGNATURE=header
    )


# Headers shaped like Whereby's, with digits of any script and any bytes (WSGI reads headers as latin-1).
digits = st.one_of(
    st.text(alphabet="0123456789²³¹١٢٣⁴₅①", min_size=1, max_size=13),  # str.isdigit() is true of every one
    st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=13),
)
shaped_headers = st.builds(
    lambda t, v1, extra: f"t={t},v1={v1}{extra}",
    st.one_of(digits, st.text(max_size=14)),
    st.one_of(st.text(alphabet="0123456789abcdef", max_size=64), st.text()),
    st.text(max_size=20),
)
any_header = st.one_of(shaped_headers, st.text(), st.binary().map(lambda b: b.decode("latin-1")))


@given(header=any_header)
def test_any_signature_header_parses_or_names_its_problem(header):
    try:
        parsed = parse_header(header)
    except SignatureError as error:
        assert error.reason in {"missing", "malformed"}
        return
    assert 0 <= parsed.timestamp < 10**12 and parsed.signatures
    with pytest.raises(SignatureError):
        verify(SECRET, header, b"{}", now=time.time(), tolerance=300)


@FIXTURES_OK
@given(header=any_header)
def test_any_signature_header_over_the_endpoint_is_a_4xx(client, header):
    response = post(client, b'{"id":"e","type":"room.client.joined"}', header)
    assert response.status_code == 400, (header, response.content)
    assert not WebhookEvent.objects.exists()


@FIXTURES_OK
@given(body=event_bodies())
def test_any_signed_body_is_refused_or_stored_sanitised_and_processed_without_failing(client, body):
    response = post(client, body, sign(SECRET, int(time.time()), body))
    assert response.status_code in (200, 202, 400, 413), (response.status_code, response.content, body[:300])
    event(f"answer {response.status_code} {response.json().get('error', '')[:30]}")
    if response.status_code != 202:
        return
    stored = WebhookEvent.objects.get(event_id=response.json()["id"])
    # Stored as a database can keep it: no NUL, no lone surrogate, finite numbers only.
    text = json.dumps(stored.raw, ensure_ascii=False, allow_nan=False)
    assert "\x00" not in text
    text.encode("utf-8")  # raises on a lone surrogate
    received = stored.received_at
    if stored.created_at is not None:
        assert received - timedelta(days=31) <= stored.created_at <= received + timedelta(seconds=300)
    effects.process(stored.pk)  # as the job does; an exception here fails the test
    stored.refresh_from_db()
    assert stored.outcome in (WebhookOutcome.PROCESSED, WebhookOutcome.IGNORED), stored.detail


def test_the_fuzzing_reaches_both_answers(client):
    """The strategy is not vacuous: plain events are stored, deep ones refused."""
    now = datetime.now(UTC).isoformat()
    good = (
        f'{{"id":"e-1","type":"room.client.joined","createdAt":"{now}","data":{{"roomName":"/a"}}}}'.encode()
    )
    assert post(client, good, sign(SECRET, int(time.time()), good)).status_code == 202
    deep = b'{"id":"e-2","type":"x","data":' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    assert post(client, deep, sign(SECRET, int(time.time()), deep)).status_code == 400
