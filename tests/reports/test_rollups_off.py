"""Rollups are a site's choice (WHEREBY_INSIGHTS["ROLLUPS"], on by default): off, writes never
recompute cells, a write retires cells built earlier, pages read raw rows, the command says why."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from insights_app.admin.dashboard import rollup_status
from insights_app.models import RollupState, RollupStatus, UsageHourRollup
from insights_app.rollups.marks import rollups_usable
from insights_app.rollups.rebuild import rebuild
from tests.helpers.rollup_data import rooms, sync_session

pytestmark = pytest.mark.django_db


def _off(settings) -> None:
    settings.WHEREBY_INSIGHTS = {**getattr(settings, "WHEREBY_INSIGHTS", {}), "ROLLUPS": False}


def test_on_by_default():
    assert rollups_usable()  # a fresh site's rollups are ready (migration 0011), and on


def test_off_a_sync_write_recomputes_no_cell_and_pages_read_raw_rows(settings):
    _off(settings)
    start = timezone.now().replace(microsecond=0) - dt.timedelta(days=2)
    sync_session(rooms()[0], "off-1", start, 30, total_participant_minutes=12.0)

    assert not UsageHourRollup.objects.exists()
    assert not rollups_usable()
    assert "off" in rollup_status()["text"] and not rollup_status()["behind"]


def test_a_write_while_off_retires_cells_built_earlier(settings):
    start = timezone.now().replace(microsecond=0) - dt.timedelta(days=2)
    settings.WHEREBY_INSIGHTS = {**getattr(settings, "WHEREBY_INSIGHTS", {}), "ROLLUPS": True}
    sync_session(rooms()[0], "off-2", start, 30, total_participant_minutes=12.0)
    rebuild()
    assert rollups_usable()

    settings.WHEREBY_INSIGHTS = {**settings.WHEREBY_INSIGHTS, "ROLLUPS": False}
    sync_session(rooms()[0], "off-3", start + dt.timedelta(hours=1), 30, total_participant_minutes=5.0)

    assert RollupState.objects.get().status == RollupStatus.NEEDS_REBUILD
    settings.WHEREBY_INSIGHTS = {**settings.WHEREBY_INSIGHTS, "ROLLUPS": True}
    assert not rollups_usable()  # turned on again, the stale cells are not read before a rebuild


def test_the_command_names_the_setting_while_rollups_are_off(settings):
    _off(settings)
    with pytest.raises(CommandError, match=r"WHEREBY_INSIGHTS\['ROLLUPS'\] = True"):
        call_command("insights_rollup", "--rebuild")
