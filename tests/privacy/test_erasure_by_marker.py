"""Erasure by marker (issue 26): a person's ids and name planted in every kind of stored payload —
synced rows and their raw items, unknown and nested keys, free text, webhook deliveries and the
presence they build, a sync run's scope, an alert's details, RQ's jobs — are gone after
``insights_forget`` by user id, external id and display name: a full dump of the database and of
Redis holds none of them."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from insights_app.models import (
    Alert,
    Participant,
    ParticipantDetail,
    Room,
    RoomSession,
    SyncRun,
    WebhookEvent,
)
from insights_app.privacy.pseudonyms import pseudonym
from tests.helpers import configure, run_sync, wait_for
from tests.helpers.privacy import database_hits, redis_hits
from tests.helpers.webhooks import SECRET, WEBHOOK_PATH, client_event, post

pytestmark = pytest.mark.django_db(transaction=True)

USER_ID = "usr-7Qm2ZrX9"
EXTERNAL_ID = "ext-K4vW81pa"
NAME = "Zoë Markerfield"
MARKERS = (USER_ID, EXTERNAL_ID, NAME)


def plant_synced_rows() -> None:
    """The person's connection and detail as a sync stores them, plus what only raw items carry."""
    room = Room.objects.create(room_name="/marker-room", raw={"roomName": "/marker-room"})
    session = RoomSession.objects.create(
        room=room, room_session_id="rs-marker", room_name="/marker-room", raw={"roomSessionId": "rs-marker"}
    )
    joined = datetime.now(UTC) - timedelta(hours=1)
    person = Participant.objects.create(
        room_session=session,
        room=room,
        participant_id="p-marker",
        user_id=USER_ID,
        external_id=EXTERNAL_ID,
        display_name=NAME,
        device_id="dev-marker",
        comment=f"{NAME} had echo",
        joined_at=joined,
        raw={
            "participantId": "p-marker",
            "userId": USER_ID,
            "externalId": EXTERNAL_ID,
            "displayName": NAME,
            "surpriseField": {"owner": NAME, "ids": [USER_ID, [EXTERNAL_ID]]},
            "metadata": json.dumps({"userId": USER_ID}),
        },
    )
    ParticipantDetail.objects.create(
        participant=person,
        position=0,
        display_name=NAME,
        user_agent="Mozilla/5.0",
        raw={"displayName": NAME, "laterName": NAME, "note": f"seat of {EXTERNAL_ID}"},
    )
    # Someone else's connection that mentions the person: only erasure by value finds it.
    Participant.objects.create(
        room_session=session,
        room=room,
        participant_id="p-other",
        display_name="Another Person",
        comment=f"met {NAME} ({USER_ID})",
        joined_at=joined,
        raw={"participantId": "p-other", "byName": {NAME: 1}, "invitedBy": EXTERNAL_ID},
    )


def deliver_webhooks(live_server) -> None:
    """A join and a leave of the person, with the keys Whereby documents and some it does not."""
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    extra = {
        "displayName": NAME,
        "externalId": EXTERNAL_ID,
        "userId": USER_ID,
        "metadata": json.dumps({"crm": EXTERNAL_ID, "userId": USER_ID}),
        "person": {"name": NAME, "ids": [USER_ID]},
    }
    url = live_server.url + WEBHOOK_PATH
    for kind, moment in (("room.client.joined", at), ("room.client.left", at + timedelta(minutes=1))):
        answer = post(
            url, client_event(kind, at=moment, participant="p-marker", room="/marker-room", **extra)
        )
        assert answer.status_code == 202, answer.text


@pytest.mark.parametrize("mode", ["pseudonymise", "delete"])
def test_a_forgotten_person_leaves_no_trace_in_a_full_dump_of_the_database_and_redis(
    settings, simulator, live_server, rq_worker_factory, redis_conn, mode
):
    configure(settings, simulator, WEBHOOK_SECRET=SECRET, WEBHOOK_SYNC_DELAY_MINUTES=600, ERASURE_MODE=mode)
    plant_synced_rows()
    assert run_sync("external_id", external_id=EXTERNAL_ID).status == "succeeded"
    SyncRun.objects.create(
        kind="room", dedup_key="planted", trigger="command", status="failed", error=f"no seat for {NAME}"
    )
    Alert.objects.create(rule="quality", subject="room:1", title="t", details={"seen": [USER_ID]})
    rq_worker_factory()
    deliver_webhooks(live_server)
    wait_for(lambda: not WebhookEvent.objects.filter(processed_at__isnull=True).exists(), timeout=60)
    for marker in MARKERS:  # planted everywhere to begin with
        assert len(database_hits(marker)) >= 3, (marker, database_hits(marker))
    assert "insights_app_webhookevent.raw" in database_hits(USER_ID)

    for flag, value in (("--user-id", USER_ID), ("--external-id", EXTERNAL_ID), ("--display-name", NAME)):
        call_command("insights_forget", flag, value, stdout=io.StringIO())

    for marker in MARKERS:
        assert database_hits(marker) == [], marker
        assert redis_hits(redis_conn, marker) == [], marker
    # Pseudonymised, the other person's mention still says that someone (the same one) was met.
    if mode == "pseudonymise":
        other = Participant.objects.get(participant_id="p-other")
        assert other.comment == f"met {pseudonym(NAME)} ({pseudonym(USER_ID)})"
        assert other.display_name == "Another Person"
