"""Retention over a synced simulator organisation: numbers kept on every report page, people not."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from insights_app.models import Participant, ParticipantDetail, PrivacyAudit, SyncRun
from insights_app.privacy.pseudonyms import is_pseudonym, pseudonym
from insights_app.privacy.retention import run_retention
from tests.helpers import configure, run_sync, wait_for
from tests.helpers.privacy import NOW, masker, object_pages, period, period_pages, personal_values, snapshot

pytestmark = pytest.mark.django_db

RETENTION_DAYS = 20
CUTOFF = NOW - dt.timedelta(days=RETENTION_DAYS)
# Wholly before the cutoff, across it, and the whole history (with its "previous period" figures).
OLD = period(NOW - dt.timedelta(days=45), CUTOFF - dt.timedelta(days=1))
ACROSS = period(CUTOFF - dt.timedelta(days=6), NOW)
ALL = period(NOW - dt.timedelta(days=45), NOW)


@pytest.fixture
def pinned():
    """The app's clock at NOW (the simulator's `now` is NOW too)."""
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def synced(settings, simulator_factory, pinned):
    """A simulator organisation (hostile names included) copied in full, details and all."""
    server = simulator_factory(
        seed=17, rooms=3, sessions_per_room=5, participants_per_session=3, days=40, now=NOW
    )
    configure(settings, server)
    run = run_sync("full")
    assert run.status == "succeeded", run.error
    return server


def retain(settings, **extra):
    settings.WHEREBY_INSIGHTS = {
        **settings.WHEREBY_INSIGHTS,
        "PERSONAL_DATA_RETENTION_DAYS": RETENTION_DAYS,
        **extra,
    }


def all_snapshots(client, table):
    """Every report page; period pages in each period, the people page only wholly before the cutoff
    (a person seen on both sides is listed twice across it: once by id, once by pseudonym)."""
    shots = {}
    for name, url in period_pages():
        for label, params in (("old", OLD), ("across", ACROSS), ("all", ALL)):
            if name != "people" or label == "old":
                shots[(name, label)] = snapshot(client, url, params, table)
    for name, url in object_pages():
        shots[(name, "")] = snapshot(client, url, {}, table)
    return shots


def person_snapshots(client, external_ids, table, *, pseudonymised=False):
    """The person page of each external id (under its pseudonym once retention ran), before the cutoff."""
    return {
        external_id: snapshot(
            client,
            reverse("insights_app:person", args=[pseudonym(external_id) if pseudonymised else external_id]),
            OLD,
            table,
        )
        for external_id in external_ids
    }


def test_retention_keeps_every_figure_on_every_report_page(settings, synced, admin_client):
    old = Participant.objects.filter(joined_at__lt=CUTOFF)
    assert 10 < old.count() < Participant.objects.count()  # the organisation straddles the cutoff
    recent = Participant.objects.filter(joined_at__gte=CUTOFF)
    # External ids seen only before the cutoff: their whole history moves to the pseudonym's page.
    old_external = sorted(
        set(old.exclude(external_id=None).values_list("external_id", flat=True))
        - set(recent.values_list("external_id", flat=True))
    )
    assert old_external
    old_names = set(old.values_list("display_name", flat=True)) - set(
        recent.values_list("display_name", flat=True)
    )
    table = masker(personal_values())
    before = all_snapshots(admin_client, table)
    before_people = person_snapshots(admin_client, old_external, table)

    retain(settings)
    result = run_retention(batch_size=7)
    assert result.participants == old.count() and result.batches == -(-old.count() // 7)

    after = all_snapshots(admin_client, table)
    assert after.keys() == before.keys()
    for key in before:
        assert after[key] == before[key], key
    assert person_snapshots(admin_client, old_external, table, pseudonymised=True) == before_people
    # ... while the old connections hold no personal data any more.
    assert old_names and not Participant.objects.filter(display_name__in=old_names).exists()
    for p in Participant.objects.filter(joined_at__lt=CUTOFF):
        assert p.pseudonymised_at == NOW
        assert all(
            v is None or is_pseudonym(v) for v in (p.display_name, p.user_id, p.device_id, p.external_id)
        )
        assert p.comment is None
        assert set(p.raw) <= {
            "roomSessionId", "participantId", "roleName", "joinedAt", "leftAt", "rating", "tags",
            "displayName", "userId", "deviceId", "externalId",
        }  # fmt: skip
        assert p.raw.get("displayName") == p.display_name
    details = ParticipantDetail.objects.filter(participant__joined_at__lt=CUTOFF)
    assert details.exists()
    assert not details.exclude(user_agent=None).exists()
    assert all(is_pseudonym(d.display_name) and "userAgent" not in d.raw for d in details)
    assert details.exclude(browser="").exists()  # the family stays
    # Each batch is audited; a second pass finds nothing left.
    audits = PrivacyAudit.objects.filter(action="retention")
    assert audits.count() == result.batches
    assert sum(a.participants for a in audits) == old.count() and all(a.cutoff == CUTOFF for a in audits)
    assert run_retention().participants == 0


def test_a_full_resync_writes_no_name_back(settings, synced, admin_client):
    retain(settings)
    run_retention()
    table = masker(personal_values())
    before = all_snapshots(admin_client, table)
    held = {
        p.pk: (p.display_name, p.raw, p.identity) for p in Participant.objects.filter(joined_at__lt=CUTOFF)
    }
    run = run_sync("full")
    assert run.status == "succeeded", run.error
    assert {
        p.pk: (p.display_name, p.raw, p.identity) for p in Participant.objects.filter(joined_at__lt=CUTOFF)
    } == held
    assert run.participants_updated == 0 and run.details_updated == 0
    assert all_snapshots(admin_client, table) == before


def test_the_sync_stores_connections_past_retention_already_pseudonymised(
    settings, simulator_factory, pinned
):
    server = simulator_factory(
        seed=5, rooms=2, sessions_per_room=4, participants_per_session=3, days=40, now=NOW
    )
    configure(settings, server, PERSONAL_DATA_RETENTION_DAYS=RETENTION_DAYS)
    assert run_sync("full").status == "succeeded"
    old = Participant.objects.filter(joined_at__lt=CUTOFF)
    assert old.exists() and not old.filter(pseudonymised_at=None).exists()
    assert all(is_pseudonym(p.display_name) for p in old if p.display_name)
    recent = Participant.objects.filter(joined_at__gte=CUTOFF)
    assert recent.exists() and not recent.exclude(pseudonymised_at=None).exists()


def test_people_are_counted_by_a_pseudonym_from_the_first_sync(synced):
    for p in Participant.objects.all():
        assert p.identity == pseudonym(p.external_id or p.user_id or p.device_id or p.participant_id)


def test_retention_is_off_by_default(synced):
    assert run_retention().participants == 0
    assert not Participant.objects.exclude(pseudonymised_at=None).exists()
    assert not SyncRun.objects.filter(status="failed").exists()


def test_the_schedule_runs_retention_only_when_it_is_set(settings, redis_conn):
    from django_rq.cron import DjangoCronScheduler

    def registered():
        scheduler = DjangoCronScheduler()
        scheduler.load_config_from_file("insights_app.cron")
        return {job.name: job for job in scheduler.get_jobs()}

    settings.WHEREBY_INSIGHTS = {}
    assert "insights-retention" not in registered()
    retain(settings)
    job = registered()["insights-retention"]
    assert (job.interval, job.queue_name) == (3600, "whereby_insights")


@pytest.mark.django_db(transaction=True)
def test_the_scheduled_job_pseudonymises_in_a_real_worker(settings, simulator_factory, rq_worker_factory):
    # Neither clock pinned: the worker runs on the real clock, so the history ends at the real now.
    server = simulator_factory(
        seed=31, rooms=2, sessions_per_room=4, participants_per_session=3, days=40, now=timezone.now()
    )
    configure(settings, server)
    assert run_sync("full").status == "succeeded"
    old = Participant.objects.filter(joined_at__lt=timezone.now() - dt.timedelta(days=RETENTION_DAYS))
    assert old.exists()
    retain(settings)
    rq_worker_factory()
    from insights_app.jobs.queue import get_queue
    from insights_app.privacy.jobs import retention_job

    job = get_queue().enqueue(retention_job)
    wait_for(lambda: job.get_status(refresh=True) == "finished", timeout=60)
    assert job.return_value() == old.count()
    assert not old.filter(pseudonymised_at=None).exists()
    assert PrivacyAudit.objects.filter(action="retention", trigger="schedule", actor="schedule").exists()
