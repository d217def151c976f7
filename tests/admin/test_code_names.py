"""No raw code name reaches a reader: roles, an alert's subject and deliveries, privacy modes and triggers
are words, translated (de, nb); the stored values stay as they were."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone, translation

from insights_app.models import Alert, PersonTombstone, PrivacyAudit, Room, RoomSession, SyncRun
from tests.helpers.admin_data import synced_participant

pytestmark = pytest.mark.django_db

ROOMS = {"en": "rooms", "de": "Räume", "nb": "rom"}
WORDS = {
    "en": ("viewer (granted access)", "the organisation", "email, raised: sent to ADMINS", "pseudonymise"),
    "de": ("Zuschauer (Zugang gewährt)", "die Organisation", "E-Mail, ausgelöst: an ADMINS gesendet", "pseudonymisieren"),
    "nb": ("seer (gitt tilgang)", "organisasjonen", "e-post, utløst: sendt til ADMINS", "pseudonymiser"),
}  # fmt: skip


@pytest.fixture
def boss(client):
    client.force_login(get_user_model().objects.create_superuser("boss", "boss@example.com", "pw"))
    return client


@pytest.fixture
def rows():
    at = timezone.now() - dt.timedelta(hours=1)
    room = Room.objects.create(room_name="/standup")
    session = RoomSession.objects.create(
        room=room, room_session_id="s-1", room_name="/standup", started_at=at
    )
    person = synced_participant(
        room_session=session,
        participant_id="p-1",
        display_name="Ada",
        role_name="granted_viewer",
        joined_at=at,
    )
    org = Alert.objects.create(
        rule="sync_failed", subject="org", title="Syncs fail", deliveries={"email:raised": "sent to ADMINS"}
    )
    in_room = Alert.objects.create(rule="quality", subject=f"room:{room.pk}", title="Poor network")
    audit = PrivacyAudit.objects.create(
        action="erasure", mode="pseudonymise", at=at, trigger="command", criterion_kind="external_id",
        other_rows={"live presence": 2},
    )  # fmt: skip
    PersonTombstone.objects.create(
        kind="external_id", criterion_hash="ab" * 32, mode="pseudonymise", created_at=at
    )
    run = SyncRun.objects.create(
        kind="room", status="partial", trigger="admin", dedup_key="r", scope={"room_names": ["/standup", "/sales"]},
        skip_reasons={"details: no samples": 2},
    )  # fmt: skip
    return {"person": person, "session": session, "org": org, "in_room": in_room, "audit": audit, "run": run}


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("language", ["en", "de", "nb"])
def test_admin_and_reports_show_words_not_code_names(boss, rows, language):
    role, org, delivery, mode = WORDS[language]
    pages = {
        "participants": reverse("admin:insights_app_participant_changelist"),
        "participant": reverse("admin:insights_app_participant_change", args=[rows["person"].pk]),
        "session report": reverse("insights_app:session", args=[rows["session"].pk]),
        "connection report": reverse("insights_app:participant_quality", args=[rows["person"].pk]),
        "alert": reverse("admin:insights_app_alert_change", args=[rows["org"].pk]),
        "room alert": reverse("admin:insights_app_alert_change", args=[rows["in_room"].pk]),
        "audit list": reverse("admin:insights_app_privacyaudit_changelist"),
        "audit": reverse("admin:insights_app_privacyaudit_change", args=[rows["audit"].pk]),
        "tombstones": reverse("admin:insights_app_persontombstone_changelist"),
        "run": reverse("admin:insights_app_syncrun_change", args=[rows["run"].pk]),
    }
    with translation.override(language):
        shown = {name: text(boss.get(url).content.decode()) for name, url in pages.items()}
    for name in ("participants", "participant", "session report", "connection report"):
        assert role in shown[name], name
        assert "granted_viewer" not in shown[name], (
            name,
            re.findall(r".{80}granted_viewer.{40}", shown[name]),
        )
    assert org in shown["alert"] and delivery in shown["alert"]
    assert '"email:raised"' not in shown["alert"] and "{" not in shown["alert"].split("Syncs fail")[-1]
    assert "/standup" in shown["room alert"] and "room:" not in shown["room alert"]
    for name in ("audit list", "audit", "tombstones"):
        assert mode in shown[name], name
    assert "external_id" not in shown["audit"], re.findall(r".{60}external_id.{30}", shown["audit"])
    assert '"live presence"' not in shown["audit"]
    assert f"{ROOMS[language]}: /standup, /sales" in shown["run"], shown["run"][-1500:]
    assert "details: no samples: 2" in shown["run"]
    assert "room_names" not in shown["run"], re.findall(r".{80}room_names.{40}", shown["run"])
