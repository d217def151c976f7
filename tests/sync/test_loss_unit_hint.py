"""The packet-loss unit hint is a fact about the site: logged once (the first run that met items whose
loss was all within 0-1), not at every sync or demo start; every run still counts them."""

from __future__ import annotations

import logging

import pytest

from insights_app.models import Participant, ParticipantDetail, SyncRun
from tests.helpers import configure, run_sync

pytestmark = pytest.mark.django_db

HINT = "PACKET_LOSS_UNIT"


def test_the_unit_hint_is_logged_once_per_site_and_every_run_keeps_its_count(
    settings, simulator_factory, caplog
):
    server = simulator_factory(seed=42, rooms=3, sessions_per_room=3, participants_per_session=3)
    configure(settings, server)
    caplog.set_level(logging.INFO, logger="insights_app")
    run_sync("full")
    assert sum(HINT in r.getMessage() for r in caplog.records if r.levelno >= logging.INFO) == 1
    caplog.clear()
    ParticipantDetail.objects.all().delete()  # the next run reads every detail again
    Participant.objects.update(details_synced_at=None)
    run_sync("full")
    assert not [
        r.getMessage() for r in caplog.records if HINT in r.getMessage() and r.levelno >= logging.INFO
    ]
    counted = [run.checkpoint.get("loss_read_as_fraction") for run in SyncRun.objects.order_by("pk")]
    assert counted[0] and counted[-1], counted
