"""Fixtures of the report tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def rollups_on(settings):
    """Rollups on (the default), stated so a site's settings cannot turn a rollup test into a raw-row one."""
    settings.WHEREBY_INSIGHTS = {**getattr(settings, "WHEREBY_INSIGHTS", {}), "ROLLUPS": True}
