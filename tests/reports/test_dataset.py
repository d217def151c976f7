"""The report tests' dataset holds the rows their hand-computed expectations assume."""

from __future__ import annotations

import pytest

from insights_app.models import Participant, RoomSession
from tests.helpers.reports_dataset import build_dataset


@pytest.mark.django_db
def test_dataset_builds_the_rows_the_expectations_assume():
    data = build_dataset()
    assert RoomSession.objects.count() == 7
    assert Participant.objects.count() == 12
    assert data.sessions["S5"].is_ongoing
    assert data.sessions["S2"].duration_seconds == 3600
