"""``insights_recompute_quality``: summaries follow changed thresholds without calling the API."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from insights_app.models import Participant, ParticipantDetail
from tests.helpers import configure, run_sync

pytestmark = pytest.mark.django_db

QUALITY = ("quality_degraded", "degraded_seconds", "max_packet_loss", "avg_packet_loss", "browser", "os")


def snapshot():
    return {
        p["pk"]: tuple(p[f] for f in QUALITY)
        for p in Participant.objects.filter(details_synced_at__isnull=False).values("pk", *QUALITY)
    }


def test_recomputed_summaries_equal_a_fresh_sync_with_the_new_thresholds(settings, simulator_factory):
    server = simulator_factory(seed=41, rooms=3, sessions_per_room=3, participants_per_session=3)
    configure(settings, server)
    run_sync("full")
    before = snapshot()
    assert any(row[0] for row in before.values()), "the organisation should have degraded connections"

    settings.WHEREBY_INSIGHTS = {
        **settings.WHEREBY_INSIGHTS,
        "DEGRADED_PACKET_LOSS_PERCENT": 8.0,
        "DEGRADED_MIN_SECONDS": 30,
    }
    server.reset_counters()
    out = StringIO()
    call_command("insights_recompute_quality", stdout=out)
    recomputed = snapshot()

    assert not server.counters  # no API call
    assert "Recomputed" in out.getvalue()
    assert recomputed != before
    # The same thresholds applied by a fresh sync give the same figures.
    ParticipantDetail.objects.all().delete()
    Participant.objects.update(details_synced_at=None)
    run_sync("incremental")
    assert snapshot() == recomputed


def test_declaring_the_loss_unit_rereads_items_taken_for_fractions(settings, simulator_factory):
    server = simulator_factory(seed=42, rooms=3, sessions_per_room=3, participants_per_session=3)
    configure(settings, server)
    run_sync("full")
    fractions = ParticipantDetail.objects.filter(packet_loss_unit="fraction")
    assert fractions.exists()
    peak = {d.pk: d.max_packet_loss_send for d in fractions}

    settings.WHEREBY_INSIGHTS = {**settings.WHEREBY_INSIGHTS, "PACKET_LOSS_UNIT": "percent"}
    call_command("insights_recompute_quality", stdout=StringIO())

    for detail in ParticipantDetail.objects.filter(pk__in=peak):
        assert detail.packet_loss_unit == "percent"
        if peak[detail.pk] is not None:
            assert detail.max_packet_loss_send == pytest.approx(peak[detail.pk] / 100)


def test_recompute_refuses_while_a_sync_is_running(settings, simulator):
    from django.core.management import CommandError

    from insights_app.models import SyncRun

    SyncRun.objects.create(dedup_key="org", trigger="schedule", status="running")
    with pytest.raises(CommandError, match="is running: recompute once it has finished"):
        call_command("insights_recompute_quality", stdout=StringIO())
