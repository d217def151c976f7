"""An organisation whose privacy setting strips names (null or ``[[redacted]]``): the admin and the
reports show a clear placeholder, never the marker or a bare connection id, and people stay
findable by external id."""

from __future__ import annotations

import pytest
from django.urls import reverse

from insights_app.models import Participant
from tests.helpers import configure, run_sync

pytestmark = pytest.mark.django_db

MARKER = "[[redacted]]"


@pytest.fixture
def stripped(settings, simulator_factory, redis_url):
    """Every room stripped: each connection's name is null or the marker (both forms occur)."""
    server = simulator_factory(
        seed=13, rooms=3, sessions_per_room=3, participants_per_session=4, redacted_rooms=1.0
    )
    configure(settings, server)
    assert run_sync("full").status == "succeeded"
    names = set(Participant.objects.values_list("display_name", flat=True))
    assert names <= {None, "", MARKER} and MARKER in names and names - {MARKER}
    return server


def marked_with_external_id() -> Participant:
    return Participant.objects.filter(display_name=MARKER).exclude(external_id__isnull=True).first()


def test_the_admin_shows_a_placeholder_and_finds_the_connection_by_external_id(admin_client, stripped):
    person = marked_with_external_id()
    url = reverse("admin:insights_app_participant_changelist")
    listing = admin_client.get(url, {"q": person.external_id}).content.decode()
    assert person.participant_id not in listing or "(name hidden)" in listing
    assert "(name hidden)" in listing and MARKER not in listing
    assert Participant.objects.filter(external_id=person.external_id).count() == listing.count(
        'class="action-select"'
    )
    everyone = admin_client.get(url, {"all": ""}).content.decode()
    assert "(no name)" in everyone and MARKER not in everyone
    page = admin_client.get(
        reverse("admin:insights_app_participant_change", args=[person.pk])
    ).content.decode()
    assert "(name hidden)" in page
    assert page.count(MARKER) == page.count("displayName")  # only inside the payload as received


def test_the_reports_show_a_placeholder_and_find_people_by_external_id(admin_client, stripped):
    person = marked_with_external_id()
    session = admin_client.get(
        reverse("insights_app:session", args=[person.room_session_id])
    ).content.decode()
    assert MARKER not in session
    assert "(name hidden)" in session or "(no name)" in session
    quality = admin_client.get(reverse("insights_app:participant_quality", args=[person.pk])).content.decode()
    assert "(name hidden)" in quality and MARKER not in quality
    people = admin_client.get(reverse("insights_app:people"), {"q": person.external_id, "period": "90d"})
    assert person.external_id in people.content.decode() and MARKER not in people.content.decode()
    page = admin_client.get(reverse("insights_app:person", args=[person.external_id]), {"period": "90d"})
    text = page.content.decode()
    assert "(name hidden)" in text and MARKER not in text
