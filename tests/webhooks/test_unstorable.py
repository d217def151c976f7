"""The intake's backstop (issue 26): a delivery PostgreSQL refuses at insert is a 4xx, counted, never
a 503 that Whereby retries in vain, and nothing of it is stored."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from insights_app.models import WebhookEvent, WebhookRejection
from insights_app.simulator.webhooks import sign
from tests.helpers.webhooks import SECRET, WEBHOOK_PATH, body_of, event

pytestmark = [
    pytest.mark.django_db,  # one transaction, rolled back: the refusing trigger goes with it
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the refusal is a PostgreSQL trigger (PL/pgSQL); SQLite has no way to raise a data error",
    ),
]
MARK = "refused-by-the-database"


@pytest.fixture
def refusing_database():
    """A trigger on the event table that refuses, as out of range (SQLSTATE 22003), any row with MARK."""
    table = connection.ops.quote_name(WebhookEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION insights_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.raw::text LIKE '%{MARK}%' THEN "
            "RAISE EXCEPTION 'value out of range' USING ERRCODE = '22003'; END IF; RETURN NEW; END $$"
        )
        cursor.execute(
            f"CREATE TRIGGER insights_test_refuse BEFORE INSERT ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION insights_test_refuse()"
        )


def test_a_delivery_the_database_refuses_is_a_counted_4xx_and_nothing_is_stored(settings, refusing_database):
    settings.WHEREBY_INSIGHTS = {
        **settings.WHEREBY_INSIGHTS,
        "WEBHOOK_SECRET": SECRET,
        "DETAIL_POLICY": "none",
    }
    client = Client(raise_request_exception=False)

    def deliver(payload: dict):
        body = body_of(payload)
        return client.post(
            WEBHOOK_PATH,
            data=body,
            content_type="application/json",
            HTTP_WHEREBY_SIGNATURE=sign(SECRET, int(time.time()), body),
        )

    refused = deliver(event("room.session.ended", at=timezone.now(), room=f"/{MARK}", event_id="ev-refused"))
    assert 400 <= refused.status_code < 500, refused.content
    assert "cannot store" in refused.json()["error"]
    assert dict(WebhookRejection.objects.values_list("reason", "count")) == {"unstorable": 1}
    assert not WebhookEvent.objects.exists()
    # The intake goes on: the next delivery is stored, and a retry of the refused one is refused again.
    assert (
        deliver(event("room.session.ended", at=timezone.now(), room="/ok", event_id="ev-ok")).status_code
        == 202
    )
    again = deliver(event("room.session.ended", at=timezone.now(), room=f"/{MARK}", event_id="ev-refused"))
    assert 400 <= again.status_code < 500
    assert list(WebhookEvent.objects.values_list("event_id", flat=True)) == ["ev-ok"]
    assert WebhookRejection.objects.get(reason="unstorable").count == 2
