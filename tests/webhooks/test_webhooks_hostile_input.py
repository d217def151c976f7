"""Signed and unsigned hostile deliveries (issue 26, defects 1-6): a 4xx or a stored, sanitised event, never a 5xx."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from insights_app.models import LiveConnection, LiveRoom, WebhookEvent, WebhookRejection
from insights_app.simulator.webhooks import sign
from insights_app.webhooks import effects, presence
from tests.helpers.webhooks import SECRET, WEBHOOK_PATH, body_of, client_event, event

pytestmark = pytest.mark.django_db


@pytest.fixture
def deliver(settings, redis_conn):
    """POST a delivery through the whole Django stack; a 500 is an answer here, not an exception."""
    settings.WHEREBY_INSIGHTS = {
        **settings.WHEREBY_INSIGHTS,
        "WEBHOOK_SECRET": SECRET,
        "DETAIL_POLICY": "none",
        "WEBHOOK_SYNC_DELAY_MINUTES": 15,
    }
    client = Client(raise_request_exception=False)

    def post(body: bytes, header: str | None = None):
        signature = header if header is not None else sign(SECRET, int(time.time()), body)
        return client.post(
            WEBHOOK_PATH, data=body, content_type="application/json", HTTP_WHEREBY_SIGNATURE=signature
        )

    return post


def rejected() -> dict[str, int]:
    return {r.reason: r.count for r in WebhookRejection.objects.all()}


def processed(event_id: str) -> WebhookEvent:
    """Apply the stored event as the job does, and return it as stored afterwards."""
    stored = WebhookEvent.objects.get(event_id=event_id)
    effects.process(stored.pk)
    stored.refresh_from_db()
    return stored


@pytest.mark.parametrize("timestamp", ["²", "\xb9\xb9", "١٢٣", "1²"])
def test_a_signature_timestamp_of_non_ascii_digits_is_refused_without_a_secret(deliver, timestamp):
    response = deliver(body_of(client_event("room.client.joined", at=datetime.now(UTC), participant="p")),
                       header=f"t={timestamp},v1=00")  # fmt: skip
    assert response.status_code == 400, response.content
    assert "Whereby-Signature" in response.json()["error"]
    assert rejected() == {"malformed": 1} and not WebhookEvent.objects.exists()


def test_a_signed_body_nested_thirty_thousand_deep_is_refused(deliver):
    deep = b'{"id":"e-deep","type":"room.client.joined","data":' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    assert len(deep) < 64 * 1024
    response = deliver(deep)
    assert response.status_code == 400, response.content
    assert "nested deeper" in response.json()["error"]
    # Deep enough to be no Whereby event, yet far from Python's recursion limit: refused too.
    fifty = b'{"id":"e-50","type":"x","data":{"a":' + b"[" * 50 + b"]" * 50 + b"}}"
    assert deliver(fifty).status_code == 400
    assert rejected() == {"invalid_payload": 2} and not WebhookEvent.objects.exists()


HOSTILE_VALUES = (
    b'"displayName":"Eve\\u0000Nul","roleName":"a\\ud800b","numClients":NaN,"metadata":1e999,'
    b'"externalId":"\\udfff","x\\u0000key":Infinity,"big":' + b"9" * 5000
)


def test_nan_infinity_nul_and_lone_surrogates_are_stored_sanitised_and_processed(deliver):
    body = (
        b'{"id":"e-hostile\\u0000","type":"room.client.joined","createdAt":"'
        + datetime.now(UTC).isoformat().encode()
        + b'","data":{"roomName":"/r\\ud83d","participantId":"p-\\u0000","roomSessionId":"s",'
        + HOSTILE_VALUES
        + b"}}"
    )
    response = deliver(body)
    assert response.status_code == 202, response.content
    stored = processed("e-hostile\ufffd")
    assert (stored.room_name, stored.participant_id, stored.outcome) == ("/r\ufffd", "p-\ufffd", "processed")
    data = stored.raw["data"]
    assert data["displayName"] == "Eve\ufffdNul" and data["roleName"] == "a\ufffdb"
    assert data["externalId"] == "\ufffd" and data["x\ufffdkey"] == "Infinity"
    # Not numbers any database can keep: kept as the text received.
    assert (data["numClients"], data["metadata"], data["big"]) == ("NaN", "1e999", "9" * 5000)
    person = LiveConnection.objects.get()
    assert (person.display_name, person.role_name, person.external_id) == (
        "Eve\ufffdNul",
        "a\ufffdb",
        "\ufffd",
    )
    assert rejected() == {}


@pytest.mark.parametrize(
    "created", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00Z"]
)
def test_created_at_beyond_the_calendar_is_stored_bounded(deliver, created):
    payload = client_event("room.client.joined", at=datetime.now(UTC), participant="p-1")
    payload["createdAt"] = created
    before = timezone.now()
    assert deliver(body_of(payload)).status_code == 202
    stored = processed(payload["id"])
    assert stored.outcome == "processed" and stored.raw["createdAt"] == created
    assert before - timedelta(days=31) <= stored.created_at <= stored.received_at


@pytest.mark.parametrize("clients", [1e300, 10**30, -1, 2**31])
def test_an_absurd_client_count_is_unknown_and_the_event_is_processed(deliver, clients):
    payload = client_event("room.client.joined", at=datetime.now(UTC), participant="p-1", numClients=clients,
                           numClientsByRoleName={"visitor": clients})  # fmt: skip
    assert deliver(body_of(payload)).status_code == 202
    assert processed(payload["id"]).outcome == "processed"
    (room,) = presence.in_rooms_now()
    assert [p.participant_id for p in room.people] == ["p-1"]
    assert room.count == 1  # the people seen, since Whereby's count is no count
    # A sound total with an absurd count by role keeps the total and drops that role's figure.
    payload = client_event("room.client.joined", at=datetime.now(UTC), participant="p-2", numClients=2,
                           numClientsByRoleName={"visitor": clients, "host": 1})  # fmt: skip
    assert deliver(body_of(payload)).status_code == 202
    assert processed(payload["id"]).outcome == "processed"
    room = LiveRoom.objects.get()
    assert (room.num_clients, room.num_clients_by_role_name) == (2, {"visitor": None, "host": 1})


def test_a_session_end_dated_2100_neither_blocks_the_rooms_syncs_nor_hides_later_joins(deliver):
    ended = event("room.session.ended", at=datetime(2100, 1, 1, tzinfo=UTC))
    assert deliver(body_of(ended)).status_code == 202
    stored = processed(ended["id"])
    assert stored.created_at == stored.received_at  # bounded by the time received
    due = datetime.fromisoformat(stored.detail.rsplit("room sync scheduled for ", 1)[1])
    assert due <= timezone.now() + timedelta(minutes=15 + 2)  # the delay (and a window), not 2100
    # A real join a minute later is shown present; its leave is not dated 2100.
    join = client_event(
        "room.client.joined", at=datetime.now(UTC) + timedelta(minutes=1), participant="p-real"
    )
    assert deliver(body_of(join)).status_code == 202
    processed(join["id"])
    assert [p.participant_id for room in presence.in_rooms_now() for p in room.people] == ["p-real"]
    assert LiveRoom.objects.get().session_ended_at < timezone.now() + timedelta(minutes=1)
