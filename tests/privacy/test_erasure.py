"""Erasure by external id, user id and display name: no trace in the database, Redis or logs."""

from __future__ import annotations

import io
import logging
from collections import Counter

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from insights_app.models import Participant, ParticipantDetail, PersonTombstone, PrivacyAudit, SyncRun
from insights_app.privacy.pseudonyms import criterion_hash, is_pseudonym, pseudonym
from tests.helpers import configure, run_sync
from tests.helpers.privacy import database_hits, redis_hits

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(settings, simulator_factory, redis_conn):
    """An organisation whose history ends now (real clock on both sides: erasure has no age rule)."""
    server = simulator_factory(
        seed=23, rooms=3, sessions_per_room=5, participants_per_session=3, days=20, now=timezone.now()
    )
    configure(settings, server)
    run = run_sync("full")
    assert run.status == "succeeded", run.error
    return server


def most_frequent(column: str) -> str:
    """The value of ``column`` with the most connections (the hostile-name pool included)."""
    values = Counter(v for v in Participant.objects.values_list(column, flat=True) if v)
    return values.most_common(1)[0][0]


def forget(*args: str) -> str:
    out = io.StringIO()
    call_command("insights_forget", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("mode", ["pseudonymise", "delete"])
@pytest.mark.parametrize("kind", ["external_id", "user_id", "display_name"])
def test_erasure_leaves_no_trace_and_a_resync_does_not_bring_it_back(
    settings, synced, redis_conn, caplog, kind, mode
):
    settings.WHEREBY_INSIGHTS = {**settings.WHEREBY_INSIGHTS, "ERASURE_MODE": mode}
    caplog.set_level(logging.DEBUG)
    value = most_frequent(kind)
    matching = Participant.objects.filter(**{kind: value})
    connections, total = matching.count(), Participant.objects.count()
    assert connections >= 1 and database_hits(value)  # the value is there to begin with
    if kind == "external_id":  # an external-id run names the id in its scope
        assert run_sync("external_id", external_id=value).status == "succeeded"

    caplog.clear()  # from here on, nothing may log the value
    output = forget(f"--{kind.replace('_', '-')}", value)

    assert database_hits(value) == []
    assert value not in output and value not in caplog.text
    digest = criterion_hash(kind, value)
    assert PersonTombstone.objects.filter(kind=kind, criterion_hash=digest, mode=mode).exists()
    audit = PrivacyAudit.objects.get(action="erasure")
    assert (audit.criterion_kind, audit.criterion_hash, audit.mode, audit.trigger) == (
        kind,
        digest,
        mode,
        "command",
    )
    assert audit.participants >= connections
    if mode == "delete":
        assert Participant.objects.count() == total - audit.participants
    else:
        assert Participant.objects.count() == total
        erased = Participant.objects.filter(**{kind: pseudonym(value)})
        assert erased.count() == audit.participants
        assert all(is_pseudonym(p.display_name) or not p.display_name for p in erased)

    run = run_sync("full")
    assert run.status == "succeeded", run.error
    assert database_hits(value) == []
    assert redis_hits(redis_conn, value) == []
    assert value not in caplog.text
    assert Participant.objects.count() == (total if mode == "pseudonymise" else total - audit.participants)


def test_dry_run_changes_nothing(synced, caplog):
    caplog.set_level(logging.DEBUG)
    value = most_frequent("external_id")
    tables = {
        "participants": list(Participant.objects.order_by("pk").values()),
        "details": list(ParticipantDetail.objects.order_by("pk").values()),
        "runs": list(SyncRun.objects.order_by("pk").values()),
    }
    output = forget("--external-id", value, "--dry-run")
    assert "Would pseudonymise" in output and "nothing changed" in output
    assert f"{Participant.objects.filter(external_id=value).count()} connections" in output
    assert value not in output and value not in caplog.text
    assert tables == {
        "participants": list(Participant.objects.order_by("pk").values()),
        "details": list(ParticipantDetail.objects.order_by("pk").values()),
        "runs": list(SyncRun.objects.order_by("pk").values()),
    }
    assert not PersonTombstone.objects.exists() and not PrivacyAudit.objects.exists()


def test_bad_requests_are_refused_clearly(db):
    with pytest.raises(CommandError, match="one of the arguments"):
        forget()
    with pytest.raises(CommandError, match="not allowed with"):
        forget("--external-id", "a", "--user-id", "b")
    with pytest.raises(CommandError, match="external id to forget is empty"):
        forget("--external-id", "  ")
    assert not PrivacyAudit.objects.exists()


def test_a_person_erased_before_their_first_sync_never_arrives(settings, simulator_factory):
    server = simulator_factory(seed=29, rooms=2, sessions_per_room=3, participants_per_session=3, days=10)
    configure(settings, server, ERASURE_MODE="delete")
    name = Counter(
        p["displayName"]
        for r in server.organisation.room_items()
        for s in server.organisation.session_items(r["roomName"])
        for p in server.organisation.participant_items(s["roomSessionId"])
    ).most_common(1)[0][0]
    forget("--display-name", name)
    assert run_sync("full").status == "succeeded"
    assert Participant.objects.exists() and database_hits(name) == []


# The admin action ----------------------------------------------------------------------------


def staff(django_user_model, client, *perms: str):
    user = django_user_model.objects.create_user("clerk", password="pw-12345678", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_participant", *perms]))
    client.force_login(user)
    return user


def action_post(client, pks, **extra):
    return client.post(
        reverse("admin:insights_app_participant_changelist"),
        {"action": "forget_selected_people", "_selected_action": [str(pk) for pk in pks], **extra},
        follow=True,
    )


def test_the_forget_action_needs_its_own_permission(synced, client, django_user_model):
    staff(django_user_model, client, "run_sync", "view_reports")
    page = client.get(reverse("admin:insights_app_participant_changelist"))
    assert page.status_code == 200 and "forget_selected_people" not in page.content.decode()
    value = most_frequent("external_id")
    pks = list(Participant.objects.filter(external_id=value).values_list("pk", flat=True))
    action_post(client, pks, criterion="external_id", confirm="yes")
    assert Participant.objects.filter(external_id=value).count() == len(pks)
    assert not PrivacyAudit.objects.exists()


def test_the_forget_action_confirms_then_erases(synced, client, django_user_model):
    user = staff(django_user_model, client, "forget_person")
    value = most_frequent("external_id")
    pks = list(Participant.objects.filter(external_id=value).values_list("pk", flat=True))
    page = client.get(reverse("admin:insights_app_participant_changelist"))
    assert "forget_selected_people" in page.content.decode()

    confirm = action_post(client, pks)
    html = confirm.content.decode()
    assert "Yes, forget them" in html and value in html
    assert f"{len(pks)} connections" in html
    assert Participant.objects.filter(external_id=value).count() == len(pks)  # nothing yet

    done = action_post(client, pks, criterion="external_id", confirm="yes")
    assert "Forgot 1 person" in done.content.decode()
    assert database_hits(value) == []
    audit = PrivacyAudit.objects.get()
    assert (audit.trigger, audit.user, audit.actor) == ("admin", user, "clerk")
    # The audit is readable, never editable or deletable.
    change = client.get(reverse("admin:insights_app_privacyaudit_change", args=[audit.pk]))
    assert change.status_code == 403  # without view permission
    user.user_permissions.add(Permission.objects.get(codename="view_privacyaudit"))
    change = client.get(reverse("admin:insights_app_privacyaudit_change", args=[audit.pk]))
    assert change.status_code == 200 and audit.criterion_hash in change.content.decode()
    assert 'name="_save"' not in change.content.decode() and "deletelink" not in change.content.decode()


def test_privacy_settings_are_checked(settings):
    from insights_app.checks.values import check_privacy

    settings.WHEREBY_INSIGHTS = {
        "PERSONAL_DATA_RETENTION_DAYS": "30",
        "ERASURE_MODE": "shred",
        "PSEUDONYM_KEY": "short-secret",
    }
    messages = [m.msg for m in check_privacy()]
    assert {m.id for m in check_privacy()} == {"insights_app.E020"} and len(messages) == 3
    assert "short-secret" not in " ".join(messages)
    settings.WHEREBY_INSIGHTS = {"PERSONAL_DATA_RETENTION_DAYS": 365, "PSEUDONYM_KEY": "k" * 32}
    assert check_privacy() == []


@pytest.mark.parametrize("mode", ["pseudonymise", "delete"])
@pytest.mark.parametrize(("kind", "key"), [("external_id", "externalId"), ("display_name", "displayName")])
def test_erasure_reaches_live_presence_and_stored_webhook_payloads(db, settings, mode, kind, key):
    from insights_app.models import LiveConnection, WebhookEvent

    settings.WHEREBY_INSIGHTS = {**settings.WHEREBY_INSIGHTS, "ERASURE_MODE": mode}
    value, other = "Zoë Forget-Me <b>", "Someone Else"
    now = timezone.now()
    for index, person in enumerate((value, other)):
        LiveConnection.objects.create(
            participant_id=f"p-{index}", room_name="/room", joined_at=now, **{kind: person}
        )
        WebhookEvent.objects.create(
            event_id=f"evt-{index}",
            type="room.client.joined",
            received_at=now,
            room_name="/room",
            participant_id=f"p-{index}",
            raw={
                "id": f"evt-{index}",
                "type": "room.client.joined",
                "data": {key: person, "roomName": "/room"},
            },
        )

    forget(f"--{kind.replace('_', '-')}", value)

    assert database_hits(value) == []
    assert LiveConnection.objects.filter(participant_id="p-0").exists() == (mode != "delete")
    assert (
        WebhookEvent.objects.count() == 2
    )  # the delivery stays (its id keeps duplicates out), the person goes
    assert WebhookEvent.objects.get(event_id="evt-1").raw["data"][key] == other
    assert getattr(LiveConnection.objects.get(participant_id="p-1"), kind) == other
    audit = PrivacyAudit.objects.get()
    assert audit.other_rows["live presence"] == 1 and audit.other_rows["webhook events"] == 1


@pytest.mark.parametrize("dry_run", [True, False])
def test_an_unknown_value_says_nothing_matched_and_what_to_check(db, dry_run):
    output = forget("--external-id", "no-such-person-42", *(["--dry-run"] if dry_run else []))
    assert "Nothing matched" in output and "this external id" in output
    assert "matched exactly" in output and "--user-id" in output and "--display-name" in output
    assert "no-such-person-42" not in output
