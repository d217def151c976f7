"""Presence on the room report and the dashboard, the rejected-deliveries count, the webhook admin."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from insights_app.models import Room, WebhookEvent
from insights_app.webhooks import effects, rejections
from insights_app.webhooks.events import parse_event
from tests.helpers.admin_data import make_user
from tests.helpers.webhooks import SECRET, body_of, client_event

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script>Bob'


@pytest.fixture
def webhooks_on(settings):
    settings.WHEREBY_INSIGHTS = {
        **settings.WHEREBY_INSIGHTS,
        "WEBHOOK_SECRET": SECRET,
        "DETAIL_POLICY": "none",
        "API_KEY": None,  # any API call would fail: presence needs none
    }


def deliver(payload: dict) -> None:
    """Store an event as the intake does and apply it as the job does (no queue needed here)."""
    parsed = parse_event(body_of(payload))
    event = WebhookEvent.objects.create(
        event_id=parsed.event_id,
        type=parsed.type,
        created_at=parsed.created_at,
        received_at=timezone.now(),
        room_name=parsed.room_name,
        room_session_id=parsed.room_session_id,
        participant_id=parsed.participant_id,
        raw=parsed.raw,
    )
    effects.process(event.pk)


def test_room_report_shows_who_is_in_the_room_now(client, viewer, data, webhooks_on):
    room = Room.objects.order_by("pk").first()
    other = Room.objects.order_by("pk").last()
    at = datetime.now(UTC) - timedelta(minutes=5)
    deliver(client_event("room.client.joined", at=at, participant="p-bob", room=room.room_name,
                         displayName=HOSTILE, roleName="host", numClients=1))  # fmt: skip
    deliver(client_event("room.client.joined", at=at, participant="p-eve", room=other.room_name,
                         displayName="Eve", numClients=1))  # fmt: skip
    client.force_login(viewer)
    page = client.get(reverse("insights_app:room", args=[room.pk])).content.decode()
    assert "In rooms now" in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;Bob" in page and HOSTILE not in page
    assert "Eve" not in page  # only this room's presence
    deliver(client_event("room.client.left", at=at + timedelta(minutes=1), participant="p-bob",
                         room=room.room_name, numClients=1))  # fmt: skip
    page = client.get(reverse("insights_app:room", args=[room.pk])).content.decode()
    assert "Nobody is in a room right now." in page


def test_room_report_without_webhooks_shows_no_presence_block(client, viewer, data):
    client.force_login(viewer)
    room = Room.objects.order_by("pk").first()
    assert "In rooms now" not in client.get(reverse("insights_app:room", args=[room.pk])).content.decode()


@pytest.mark.integration  # the rejected count lives in Redis
def test_dashboard_shows_presence_and_the_rejected_count(client, viewer, webhooks_on):
    for reason in ("bad_signature", "bad_signature", "stale"):
        rejections.record(reason)
    deliver(client_event("room.client.joined", at=datetime.now(UTC), participant="p-1", room="/ops"))
    client.force_login(viewer)
    page = client.get(reverse("admin:insights_app_syncrun_dashboard")).content.decode()
    assert "In rooms now" in page and "/ops" in page
    assert 'id="insights-webhooks-rejected">3<' in page
    assert SECRET not in page


def test_presence_json_needs_a_permission(client, viewer, django_user_model, webhooks_on):
    deliver(client_event("room.client.joined", at=datetime.now(UTC), participant="p-1", room="/ops",
                         displayName=HOSTILE))  # fmt: skip
    url = reverse("insights_app:webhook_presence")
    client.force_login(make_user(django_user_model, "nobody"))
    assert client.get(url).status_code == 403
    client.force_login(viewer)
    rooms = client.get(url).json()["rooms"]
    person = rooms[0]["people"][0]
    assert rooms == [{"room_name": "/ops", "num_clients": 1, "report_url": "", "since": rooms[0]["since"], "synced_at": "",
                      "people": [{"display_name": HOSTILE, "role_name": "visitor", "joined_at": person["joined_at"],
                                  "joined": person["joined"]}]}]  # fmt: skip
    # Times written in the site's zone, as the page draws them (not left to the browser's zone).
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", rooms[0]["since"]) and re.fullmatch(
        r"\d\d:\d\d", person["joined"]
    )


def test_webhook_event_admin_is_read_only_and_filters(client, viewer, django_user_model, webhooks_on):
    deliver(client_event("room.client.joined", at=datetime.now(UTC), participant="p-1"))
    deliver({"id": "evt-x", "type": "room.recording.started", "createdAt": None, "data": {}})
    admin = make_user(django_user_model, "boss", is_superuser=True)
    client.force_login(admin)
    url = reverse("admin:insights_app_webhookevent_changelist")
    ignored = client.get(url + "?outcome__exact=ignored").context["cl"].result_list
    assert [e.event_id for e in ignored] == ["evt-x"]
    joined = client.get(url + "?type__exact=room.client.joined").context["cl"].result_list
    assert [e.type for e in joined] == ["room.client.joined"]
    event = WebhookEvent.objects.get(event_id="evt-x")
    change = client.get(reverse("admin:insights_app_webhookevent_change", args=[event.pk])).content.decode()
    assert 'name="_save"' not in change
    assert client.get(reverse("admin:insights_app_webhookevent_add")).status_code == 403


@pytest.mark.integration  # the sync dashboard it is compared with reads the budget and workers in Redis
@pytest.mark.parametrize("staff", [True, False])
@pytest.mark.parametrize(
    "perms", [(), ("view_reports",), ("view_syncrun",), ("run_sync",), ("view_room", "view_participant")]
)
def test_presence_json_is_open_exactly_to_who_may_open_a_page_showing_presence(
    client, data, django_user_model, webhooks_on, staff, perms
):
    deliver(client_event("room.client.joined", at=datetime.now(UTC), participant="p-1", room="/ops"))
    user = make_user(django_user_model, "someone", perms)
    if not staff:
        django_user_model.objects.filter(pk=user.pk).update(is_staff=False)
    client.force_login(user)
    room = Room.objects.order_by("pk").first()
    report = client.get(reverse("insights_app:room", args=[room.pk])).status_code
    dashboard = client.get(reverse("admin:insights_app_syncrun_dashboard")).status_code
    presence_json = client.get(reverse("insights_app:webhook_presence")).status_code
    assert presence_json == (200 if 200 in (report, dashboard) else 403), (report, dashboard)


@pytest.mark.integration  # the lag observed lives in Redis
def test_dashboard_shows_the_lag_observed_and_whether_the_settings_follow_it(
    client, viewer, webhooks_on, redis_conn, settings
):
    from insights_app.sync import lag

    client.force_login(viewer)
    url = reverse("admin:insights_app_syncrun_dashboard")
    page = client.get(url).content.decode()
    assert "none yet: learned from the next sessions that end" in page
    assert (
        "<code>DATA_LAG_MINUTES</code>: follows the lag observed (cautious until one is); "
        "<code>WEBHOOK_SYNC_DELAY_MINUTES</code>: follows the lag observed (cautious until one is)"
    ) in page
    for lo, hi in ((11.5, 12.5), (10.8, 11.8), (11.2, 12.2)):
        lag.observe(timedelta(minutes=lo), timedelta(minutes=hi))
    page = client.get(url).content.decode()
    # Each the middle of its bounds: 12.0, 11.3 and 11.7 minutes.
    assert "median 11 min 42 s, p90 12 min 00 s (over 3 sessions)" in page
    assert "<code>WEBHOOK_SYNC_DELAY_MINUTES</code>: follows the lag observed (now 12 min 00 s)" in page
    settings.WHEREBY_INSIGHTS = {**settings.WHEREBY_INSIGHTS, "WEBHOOK_SYNC_DELAY_MINUTES": 14}
    page = client.get(url).content.decode()
    assert (
        "<code>DATA_LAG_MINUTES</code>: follows the lag observed (now 12 min 00 s); <code>WEBHOOK_SYNC_DELAY_MINUTES</code>: fixed at 14 min"
    ) in page
