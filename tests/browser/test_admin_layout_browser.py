"""Admin lists in a real browser: every column visible without horizontal scrolling, long names on one line."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.helpers import configure, run_sync

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# The columns a support engineer reads on each list (all of them).
COLUMNS = {
    "participant": [
        "display name", "joined", "session", "role", "duration", "network", "max loss", "browser", "os",
        "external id", "rating",
    ],
    "room": ["room name", "last session", "sessions", "participant minutes", "unique participants", "rating"],
    "roomsession": ["started", "room", "session id", "duration", "participants", "participant minutes", "rating"],
    "syncrun": ["sync run", "status", "trigger", "requested by", "queued", "duration", "progress", "api requests"],
}  # fmt: skip

MEASURE = """() => {
  const results = document.querySelector('#changelist .results');
  const box = results.getBoundingClientRect();
  const heads = [...document.querySelectorAll('#result_list thead th')].map(th => {
    const r = th.getBoundingClientRect();
    // A sorted header starts with its sort priority on a line of its own.
    const text = th.innerText.trim().split('\\n').pop().trim().toLowerCase();
    return {text, left: r.left, right: r.right};
  });
  const cell = document.querySelector('#result_list tbody td, #result_list tbody th');
  const lineHeight = parseFloat(getComputedStyle(cell).lineHeight) || 16;
  const heights = sel => [...document.querySelectorAll(sel)].map(el => el.getBoundingClientRect().height);
  return {
    overflow: results.scrollWidth - results.clientWidth,
    pageOverflow: document.documentElement.scrollWidth - window.innerWidth,
    visible: [box.left, box.right],
    heads, lineHeight,
    nameHeights: heights('#result_list .insights-clip'),
  };
}"""


@pytest.fixture
def synced(settings, simulator_factory):
    """An organisation as the simulator makes it: UUID room names, hostile and 300-character names."""
    server = simulator_factory(seed=7, rooms=8, sessions_per_room=4, participants_per_session=4)
    configure(settings, server)
    run = run_sync("full")
    assert run.status in ("succeeded", "partial"), run.error
    return server


@pytest.mark.parametrize("width", [1400, 1920])
def test_every_list_shows_its_columns_without_horizontal_scrolling(
    page, login, make_staff_user, live_server, synced, screenshot, width
):
    page.set_viewport_size({"width": width, "height": 1000})
    login(make_staff_user("root", superuser=True))
    for model, columns in COLUMNS.items():
        page.goto(f"{live_server.url}/admin/insights_app/{model}/")
        m = page.evaluate(MEASURE)
        screenshot(f"admin-list-{model}-{width}")
        assert m["overflow"] <= 0 and m["pageOverflow"] <= 0, (model, width, m["overflow"])
        left, right = m["visible"]
        shown = {h["text"]: h for h in m["heads"]}
        for column in columns:
            head = shown.get(column)
            assert head is not None, (model, column, list(shown))
            assert left - 1 <= head["left"] and head["right"] <= right + 1, (
                model,
                column,
                head,
                m["visible"],
            )
        # Room names (UUID-long), display names and ids stay on one line instead of 4–5.
        if model != "syncrun":
            assert m["nameHeights"], model
            assert max(m["nameHeights"]) <= 1.5 * m["lineHeight"], (model, max(m["nameHeights"]))
    assert page.console_errors == []


def test_a_clipped_name_is_whole_in_its_tooltip(page, login, make_staff_user, live_server, synced):
    from insights_app.models import Room

    login(make_staff_user("root", superuser=True))
    page.goto(f"{live_server.url}/admin/insights_app/room/")
    longest = max(Room.objects.values_list("room_name", flat=True), key=len)
    name = page.locator("#result_list .insights-clip", has_text=longest[:12]).first
    assert name.get_attribute("title") == longest
    assert name.text_content() == longest  # cut by the stylesheet only: copying takes the whole name


# Everything drawn outside the phone's width that the user could not scroll to within its own box
# (Django's admin puts wide result tables in a box that scrolls sideways; that is allowed).
CUT_OFF = """() => {
  const width = document.documentElement.clientWidth;
  const outside = r => r.right > width + 1 || r.left < -1;
  const scrolls = el => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  const cut = [];
  for (const el of document.querySelectorAll('#container *')) {
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (!r.width || !r.height || style.visibility === 'hidden' || !outside(r)) continue;
    let box = el.parentElement;
    while (box && !(scrolls(box) && !outside(box.getBoundingClientRect()))) box = box.parentElement;
    if (!box) cut.push(`${el.tagName.toLowerCase()}#${el.id}.${el.className} ${Math.round(r.left)}..${Math.round(r.right)}`);
  }
  return {pageOverflow: document.documentElement.scrollWidth - window.innerWidth, cut: cut.slice(0, 8)};
}"""
PHONE = {"width": 390, "height": 844}


def test_lists_and_change_pages_are_usable_on_a_390px_phone(
    page, login, make_staff_user, live_server, synced, screenshot
):
    from insights_app.models import Participant, Room, RoomSession, SyncRun

    page.set_viewport_size(PHONE)
    login(make_staff_user("root", superuser=True))
    for model, heading in (
        ("participant", "View participant"),
        ("room", "View room"),
        ("roomsession", "View room session"),
        ("syncrun", "View sync run"),
    ):
        page.goto(f"{live_server.url}/admin/insights_app/{model}/")
        m = page.evaluate(CUT_OFF)
        screenshot(f"admin-phone-{model}-list")
        assert m["pageOverflow"] <= 0 and m["cut"] == [], (model, m)
        # The search box and the first row's link are on screen, and the link opens the row.
        search = page.locator("#searchbar")
        if search.count():
            box = search.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (model, box)
        link = page.locator("#result_list tbody tr").first.locator("a").first
        box = link.bounding_box()
        assert box and 0 <= box["x"] < PHONE["width"] - 20, (model, box)
        link.click()
        assert page.locator("h1").inner_text() == heading, model
        m = page.evaluate(CUT_OFF)
        screenshot(f"admin-phone-{model}-change")
        assert m["pageOverflow"] <= 0 and m["cut"] == [], (model, m)
    page.goto(live_server.url + reverse("admin:insights_app_syncrun_dashboard"))
    m = page.evaluate(CUT_OFF)
    screenshot("admin-phone-dashboard")
    assert m["pageOverflow"] <= 0 and m["cut"] == [], ("dashboard", m)
    assert Participant.objects.exists() and Room.objects.exists() and RoomSession.objects.exists()
    assert SyncRun.objects.exists()
    assert page.console_errors == []
