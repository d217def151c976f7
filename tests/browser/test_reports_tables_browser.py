"""Report tables in Chromium: dates, durations and figures stay on one line (issue 25)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.helpers.reports_dataset import build_dataset

pytestmark = pytest.mark.django_db(transaction=True)

HEIGHTS = """sel => [...document.querySelectorAll(sel)].map(td => {
  const range = document.createRange();
  range.selectNodeContents(td);
  return {text: td.innerText, lines: range.getClientRects().length};
})"""


@pytest.mark.parametrize("width", [1400, 390])
def test_dates_and_durations_never_wrap_in_the_connections_table(
    page, login, make_staff_user, live_server, screenshot, width
):
    data = build_dataset()
    login(make_staff_user("viewer", perms=("view_reports",)))
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(live_server.url + reverse("insights_app:session", args=[data.sessions["S1"].pk]))
    screenshot(f"reports-session-table-{width}")
    cells = page.evaluate(HEIGHTS, "#table-connections td.kind-datetime, #table-connections td.kind-duration")
    assert len(cells) >= 8
    assert [c for c in cells if c["lines"] > 1] == []
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
