"""Property: any organisation (values at the edges of every type) under any fault schedule syncs to a
clean run, the database holds what the API sent wherever the app keeps a value as given, and every
admin and report page answers below 500 in UTC and in Asia/Tokyo.

Examples per run come from the hypothesis profile (``INSIGHTS_HYPOTHESIS_PROFILE``, see conftest):
a few in CI, many with ``make test-long``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from django.core.signals import got_request_exception
from django.test import Client, override_settings
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from insights_app.models import Participant, ParticipantDetail, Room, RoomSession, SyncRun
from insights_app.simulator import FaultConfig, OrgSpec, SimulatorServer
from insights_app.sync import InProcess, create_or_get_active_run, execute_run
from tests.helpers import TEST_API_KEY

pytestmark = pytest.mark.django_db

# Values the app must keep exactly as given, and values it must refuse (stored as null).
KEPT_DATES = {
    "2021-06-01T10:00:00.000Z": datetime(2021, 6, 1, 10, tzinfo=UTC),
    "2024-02-29T23:59:59.999Z": datetime(2024, 2, 29, 23, 59, 59, 999000, tzinfo=UTC),
    "2025-12-31T15:00:00+00:00": datetime(2025, 12, 31, 15, tzinfo=UTC),
}
ABSURD_DATES = ("0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z", "1970-01-01T00:00:00Z")
EMPTY_DATES = (None, "")
UNREADABLE_DATES = ("31/02/2026 25:61", "yesterday")
KEPT_NUMBERS = (0, 1, 2.5, 59, 1e15, -3, 123456789)
ABSURD_NUMBERS = (1.5e308, 1e308, 10**30, -1e20)
UNUSABLE_NUMBERS = (None, "lots", True, [1], {"n": 1})
LONG = {"s256": "s" * 256, "s600": "é" * 600, "s5000": "x" * 5000, "s20000": "y" * 20_000}
TEXTS = (
    "",
    "Zoë 🚀👩‍💻",
    "<script>alert(1)</script>",
    "=cmd|' /C calc'!A0",
    "..",
    "nul\x00inside",
    "esc\x1b[2Jtitle\x1b]0;x\x07",
    "\u202eevil",
    "line\nbreak",
    *LONG.values(),
)
# Identities that must round-trip (no NUL, within column sizes); made unique by the strategies.
IDS = (
    "..",
    "../..",
    "../../admin/auth/user/",
    "a/b",
    "%2e%2e",
    "日本語",
    "<b>x</b>",
    "sp ace",
    "q&a=1",
    "i" * 200,
)
INVALID_IDS = (None, "", "   ", 42.5, ["x"])
TEXT_CAPS = {"displayName": 512, "comment": 4096, "userAgent": 1024}
STR_CAPS = {
    "deviceId": 255,
    "userId": 255,
    "externalId": 255,
    "roleName": 64,
    "userRole": 64,
    "roomName": 512,
}
RAW_TEXT_LIMIT = 16_384


def any_of(*groups: tuple) -> st.SearchStrategy:
    return st.sampled_from([v for group in groups for v in group])


dates = any_of(tuple(KEPT_DATES), ABSURD_DATES, EMPTY_DATES, UNREADABLE_DATES)
safe_dates = any_of(tuple(KEPT_DATES), ABSURD_DATES, EMPTY_DATES)
numbers = any_of(KEPT_NUMBERS, ABSURD_NUMBERS, UNUSABLE_NUMBERS)
texts = st.one_of(st.sampled_from((None, *TEXTS)), st.text(max_size=30))
sample_values = st.lists(
    any_of((None, 0, 0.4, 1.5, 3.0, 25.0, 100.0, 250.0, -5.0, 1e308, -1e308, 2_000_000, "x")), max_size=8
)


@st.composite
def detail_items(draw) -> list:
    items = []
    for _ in range(draw(st.integers(0, 2))):
        item = {
            "displayName": draw(texts),
            "userRole": draw(texts),
            "userAgent": draw(
                st.sampled_from((None, "", "Mozilla/5.0 Firefox/120.0", "Chrome/1 " + "z" * 5000))
            ),
            "timeStamp": draw(dates),
            "sampleRateMs": draw(numbers),
            "samples": {
                key: draw(sample_values)
                for key in ("packetLossSend", "packetLossRecv", "bitrateSend", "bitrateRecv")
            },
            "events": draw(st.sampled_from((None, [], [{"type": "joined"}], "not a list"))),
        }
        items.append(item if draw(st.integers(0, 9)) else "not an object")
    return items


@st.composite
def organisations(draw) -> dict:
    names = draw(st.lists(st.sampled_from(IDS), min_size=1, max_size=3, unique=True))
    rooms, sessions, participants, details = [], {}, {}, {}
    serial = 0
    for name in names:
        room_name = "/" + name
        rooms.append(
            {
                "roomName": room_name,
                "createdAt": draw(safe_dates),
                "endAt": draw(dates),
                "totalParticipantMinutes": draw(numbers),
                "totalSessions": draw(numbers),
                "rating": draw(numbers),
                "surpriseField": draw(texts),
            }
        )
        sessions[room_name] = []
        for _ in range(draw(st.integers(0, 2))):
            serial += 1
            session_id = f"{draw(st.sampled_from(IDS))}-{serial}"
            sessions[room_name].append(
                {
                    "roomSessionId": session_id,
                    "roomName": room_name,
                    "startedAt": draw(safe_dates),
                    "endedAt": draw(dates),
                    "totalParticipantMinutes": draw(numbers),
                    "totalUniqueParticipants": draw(numbers),
                }
            )
            participants[session_id] = []
            for _ in range(draw(st.integers(0, 3))):
                serial += 1
                participant_id = f"{draw(st.sampled_from(IDS))}-{serial}"
                participants[session_id].append(
                    {
                        "roomSessionId": session_id,
                        "participantId": participant_id,
                        "deviceId": draw(texts),
                        "userId": draw(texts),
                        "roleName": draw(texts),
                        "displayName": draw(texts),
                        "joinedAt": draw(dates),
                        "leftAt": draw(st.sampled_from((*KEPT_DATES, *ABSURD_DATES, None))),
                        "externalId": draw(st.one_of(st.sampled_from(IDS), texts)),
                        "rating": draw(numbers),
                        "tags": draw(st.sampled_from((None, [], ["a", "b"], "not a list"))),
                        "comment": draw(texts),
                    }
                )
                details[(session_id, participant_id)] = draw(detail_items())
    # A few items the API sends broken: no identity, or not an object at all.
    for _ in range(draw(st.integers(0, 2))):
        rooms.append({"roomName": draw(st.sampled_from(INVALID_IDS)), "totalSessions": 1})
    if draw(st.booleans()):
        rooms.append("not an object")
    return {"rooms": rooms, "sessions": sessions, "participants": participants, "details": details}


fault_schedules = st.builds(
    FaultConfig,
    error_rate=st.sampled_from((0.0, 0.1, 0.3)),
    error_status=st.sampled_from((500, 502, 503, 504)),
    truncated_rate=st.sampled_from((0.0, 0.1, 0.3)),
    drop_connection_rate=st.sampled_from((0.0, 0.1)),
    malformed_json_rate=st.sampled_from((0.0, 0.1)),
    trickle_rate=st.sampled_from((0.0, 0.1, 0.3)),
    trickle_interval_ms=st.just(5),
    trickle_bytes=st.sampled_from((64, 512)),
    force_throttle=st.integers(0, 3),
    throttle_ms=st.just(10),
    seed=st.integers(0, 1000),
)


class ScriptedOrganisation:
    """The API's data as generated above, answered the way the simulator's organisation would."""

    def __init__(self, data: dict) -> None:
        self.spec = OrgSpec(rooms=0)
        self.data = data

    def room_items(self) -> list:
        return list(self.data["rooms"])

    room_item_views = room_items  # what the simulator's rooms listing reads

    def session_items(self, room_name: str) -> list:
        return list(self.data["sessions"].get(room_name, []))

    def participant_items(self, room_session_id: str) -> list:
        return list(self.data["participants"].get(room_session_id, []))

    def participant_items_by_external_id(self, external_id: str) -> list:
        return [
            p for ps in self.data["participants"].values() for p in ps if p.get("externalId") == external_id
        ]

    def detail_items(self, room_session_id: str, participant_id: str) -> list:
        return list(self.data["details"][(room_session_id, participant_id)])

    def advance(self, seconds: float) -> None:
        """The scripted data does not move."""


# The oracle: what the app must hold for a value, independent of the app's own parsing ------------


@dataclass
class Mismatches:
    found: list[str] = field(default_factory=list)

    def check(self, where: str, stored: Any, expected: Any) -> None:
        if stored != expected:
            self.found.append(f"{where}: stored {str(stored)[:80]!r}, API sent {str(expected)[:80]!r}")


def kept_text(value: Any, cap: int | None) -> tuple[bool, Any]:
    """(is the value kept as given, what the column must hold)."""
    if not isinstance(value, str) or "\x00" in value:
        return False, None
    return (cap is None or len(value) <= cap), value


def valid_identity(value: Any, cap: int = 255) -> bool:
    return isinstance(value, str) and bool(value.strip()) and "\x00" not in value and len(value) <= cap


def storable(item: Any, date_fields: tuple[str, ...]) -> bool:
    """Whether the app must store the item: an object with only readable (or empty) dates."""
    return isinstance(item, dict) and all(item.get(f) not in UNREADABLE_DATES for f in date_fields)


def compare_value(
    m: Mismatches, where: str, kind: str, value: Any, stored: Any, cap: int | None = None
) -> None:
    if kind == "date":
        if value in KEPT_DATES:
            m.check(where, stored, KEPT_DATES[value])
        elif value in ABSURD_DATES or value in EMPTY_DATES:
            m.check(where, stored, None)
    elif kind == "number":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            m.check(where, stored, float(value) if abs(value) <= 1e15 else None)
        elif value in (None, "lots") or isinstance(value, (bool, list, dict)):
            m.check(where, stored, None)
    elif kind == "text":
        kept, expected = kept_text(value, cap)
        if kept:
            m.check(where, stored, expected)
        elif isinstance(value, str) and "\x00" not in value and cap is not None:
            m.check(where, stored, value[:cap])  # cut at the documented length
        elif value is None:
            m.check(where, stored, None)


def strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*strings_in(k), *strings_in(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


def numbers_by_value(value: Any) -> Any:
    """JSON with every number as a float: PostgreSQL's jsonb keeps numbers as ``numeric``, so the
    API's 1e308 comes back as the integer 10**308 (the same value, another Python type)."""
    if isinstance(value, dict):
        return {k: numbers_by_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [numbers_by_value(v) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an integer beyond any float (10**400) comes back as that integer
            return value
    return value


def compare_raw(m: Mismatches, where: str, item: dict, raw: dict) -> None:
    if all("\x00" not in s and len(s) <= RAW_TEXT_LIMIT for s in strings_in(item)):
        m.check(f"{where} raw", numbers_by_value(raw), numbers_by_value(item))


def compare_database(data: dict) -> list[str]:
    m = Mismatches()
    rooms = {r.room_name: r for r in Room.objects.all()}
    for item in data["rooms"]:
        if not storable(item, ("createdAt", "endAt")) or not valid_identity(item.get("roomName"), 512):
            continue
        room = rooms.get(item["roomName"])
        if room is None:
            m.found.append(f"room {item['roomName']!r} not stored")
            continue
        where = f"room {item['roomName']!r}"
        for api, column in (("createdAt", "created_at"), ("endAt", "end_at")):
            compare_value(m, f"{where} {api}", "date", item.get(api), getattr(room, column))
        for api, column in (
            ("totalParticipantMinutes", "total_participant_minutes"),
            ("totalSessions", "total_sessions"),
            ("rating", "rating"),
        ):
            compare_value(m, f"{where} {api}", "number", item.get(api), getattr(room, column))
        compare_raw(m, where, item, room.raw)
        for session_item in data["sessions"].get(item["roomName"], []):
            compare_session(m, data, session_item)
    return m.found


def compare_session(m: Mismatches, data: dict, item: dict) -> None:
    if not storable(item, ("startedAt", "endedAt")):
        return
    session = RoomSession.objects.filter(room_session_id=item["roomSessionId"]).first()
    where = f"session {item['roomSessionId']!r}"
    if session is None:
        m.found.append(f"{where} not stored")
        return
    compare_value(m, f"{where} startedAt", "date", item["startedAt"], session.started_at)
    compare_value(m, f"{where} endedAt", "date", item["endedAt"], session.ended_at)
    compare_value(
        m, f"{where} minutes", "number", item["totalParticipantMinutes"], session.total_participant_minutes
    )
    compare_raw(m, where, item, session.raw)
    for participant_item in data["participants"][item["roomSessionId"]]:
        if not storable(participant_item, ("joinedAt", "leftAt")):
            continue
        compare_participant(m, data, session, participant_item)


def compare_participant(m: Mismatches, data: dict, session: RoomSession, item: dict) -> None:
    participant = Participant.objects.filter(
        room_session=session, participant_id=item["participantId"]
    ).first()
    where = f"participant {item['participantId']!r}"
    if participant is None:
        m.found.append(f"{where} not stored")
        return
    for api, column in (("joinedAt", "joined_at"), ("leftAt", "left_at")):
        compare_value(m, f"{where} {api}", "date", item[api], getattr(participant, column))
    for api, column in (
        ("deviceId", "device_id"),
        ("userId", "user_id"),
        ("roleName", "role_name"),
        ("displayName", "display_name"),
        ("externalId", "external_id"),
        ("comment", "comment"),
    ):
        cap = TEXT_CAPS.get(api) or STR_CAPS.get(api)
        compare_value(m, f"{where} {api}", "text", item[api], getattr(participant, column), cap)
    compare_value(m, f"{where} rating", "number", item["rating"], participant.rating)
    if isinstance(item["tags"], list):
        m.check(f"{where} tags", participant.tags, item["tags"])
    compare_raw(m, where, item, participant.raw)
    if participant.left_at is None:
        return  # details are fetched only for connections that have ended
    stored = {d.position: d for d in ParticipantDetail.objects.filter(participant=participant)}
    for position, detail in enumerate(data["details"][(session.room_session_id, item["participantId"])]):
        if not storable(detail, ("timeStamp",)):
            continue
        row = stored.get(position)
        if row is None:
            m.found.append(f"{where} detail {position} not stored")
            continue
        compare_value(m, f"{where} detail {position} timeStamp", "date", detail["timeStamp"], row.time_stamp)
        for api, column in (
            ("displayName", "display_name"),
            ("userAgent", "user_agent"),
            ("userRole", "user_role"),
        ):
            cap = TEXT_CAPS.get(api) or STR_CAPS.get(api)
            compare_value(
                m, f"{where} detail {position} {api}", "text", detail[api], getattr(row, column), cap
            )
        for column in ("avg_packet_loss_send", "avg_packet_loss_recv", "max_packet_loss_send"):
            value = getattr(row, column)
            if value is not None and not 0 <= value <= 100:
                m.found.append(f"{where} detail {position} {column} = {value} (not a percentage)")
        for column in ("avg_bitrate_send", "avg_bitrate_recv"):
            value = getattr(row, column)
            if value is not None and not 0 <= value <= 1e12:
                m.found.append(f"{where} detail {position} {column} = {value}")


# The crawl ---------------------------------------------------------------------------------------

SEEDS = (
    "/insights/",
    "/insights/quality/",
    "/insights/people/",
    "/admin/",
    "/admin/insights_app/room/",
    "/admin/insights_app/roomsession/",
    "/admin/insights_app/participant/",
    "/admin/insights_app/syncrun/",
    "/admin/insights_app/syncrun/dashboard/",
)
FOLLOW = re.compile(r"^/(insights|admin/insights_app)/")
NOT_FOLLOWED = ("/start/", "/cancel/", "/delete/", "/history/", "logout", "/assets/")
HREF = re.compile(r'href="([^"#]*)')


def crawl(client: Client, limit: int, extra: tuple[str, ...] = ()) -> tuple[int, list[str]]:
    """Follow every link under the app from the seeds, as a browser resolves them; 5xx answers."""
    failures: list[str] = []
    errors: list[str] = []

    def remember(sender, request=None, **kwargs):
        import sys

        exc = sys.exc_info()[1]
        errors.append(f"{type(exc).__name__}: {str(exc)[:160]}")

    got_request_exception.connect(remember)
    try:
        todo = list(dict.fromkeys((*SEEDS, *extra)))
        seen = set(todo)
        while todo and len(seen) - len(todo) < limit:
            url = todo.pop(0)
            errors.clear()
            response = client.get(url)
            if response.status_code >= 500:
                failures.append(f"{response.status_code} {url} {errors[-1] if errors else ''}")
                continue
            if "text/html" not in response.get("Content-Type", ""):
                continue
            body = b"".join(response.streaming_content) if response.streaming else response.content
            for href in HREF.findall(body.decode("utf-8", "replace")):
                target = urljoin(url, href.replace("&amp;", "&"))
                parts = urlsplit(target)
                if parts.netloc or not FOLLOW.match(parts.path) or any(n in target for n in NOT_FOLLOWED):
                    continue
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        return len(seen) - len(todo), failures
    finally:
        got_request_exception.disconnect(remember)


# The property ------------------------------------------------------------------------------------


def clear_database() -> None:
    for model in (ParticipantDetail, Participant, RoomSession, Room, SyncRun):
        model.objects.all().delete()


def sync(kind: str = "full") -> SyncRun:
    run, created = create_or_get_active_run(kind, trigger="command", backend=InProcess())
    assert created, f"run #{run.pk} of an earlier sync is still {run.status}"
    try:
        return execute_run(run.pk, backend=InProcess())
    except Exception:
        return SyncRun.objects.get(pk=run.pk)


# Pages crawled per time zone and example: enough to reach every kind of page in CI, all in test-long.
PAGE_LIMIT = 40 if settings().max_examples < 100 else 400
ITEM_PREFIXES = ("rooms: ", "sessions: ", "participants: ", "details: ")


@pytest.fixture
def admin_client(django_user_model) -> Client:
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@settings(
    max_examples=max(2, settings().max_examples // 10),
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # each example syncs twice: no slow shrinking
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@pytest.mark.integration  # serves the simulator
@given(data=organisations(), faults=fault_schedules, crawl_pages=st.just(True))
def test_any_organisation_under_any_faults_syncs_cleanly_and_every_page_answers(
    settings_fixture, admin_client, data, faults, crawl_pages
):
    clear_database()
    server = SimulatorServer(ScriptedOrganisation(data), api_key=TEST_API_KEY, faults=faults).start()
    try:
        with override_settings(WHEREBY_INSIGHTS={**settings_fixture, "BASE_URL": server.base_url}):
            sync()  # under the fault schedule: may fail, must not hang
            server.faults = FaultConfig()
            final = sync()

            assert not SyncRun.objects.filter(status__in=("queued", "running")).exists(), "a run is stuck"
            assert final.status in ("succeeded", "partial"), f"final run {final.status}: {final.error}"
            assert final.error == ""
            problems = [r for r in final.skip_reasons if not r.startswith(ITEM_PREFIXES)]
            assert problems == [], f"the final run hit problems: {problems}"
            mismatches = compare_database(data)
            assert mismatches == [], "\n".join(mismatches[:20])

            for zone in ("UTC", "Asia/Tokyo"):
                with override_settings(TIME_ZONE=zone):
                    crawled, failures = crawl(admin_client, PAGE_LIMIT)
                print(f"{zone}: crawled {crawled} pages, {len(failures)} answered 5xx")
                assert failures == [], f"{len(failures)} of {crawled} pages failed in {zone}:\n" + "\n".join(
                    failures[:30]
                )
    finally:
        server.stop()


@pytest.fixture
def settings_fixture() -> dict:
    return {
        "API_KEY": TEST_API_KEY,
        "BACKOFF_BASE": 0.001,
        "BACKOFF_MAX": 0.01,
        "MAX_RETRIES": 2,
        "MAX_RETRY_WAIT": 0.05,
        "RESPONSE_TIMEOUT": 0.5,
        "READ_TIMEOUT": 2,
        "RATE_BUDGET_POINTS_PER_MINUTE": 1_000_000,
        "PLAN_POINTS_PER_MINUTE": 1_000_000,
        "LOOKBACK_MINUTES": 0,
        "DETAIL_POLICY": "all",
        "PACKET_LOSS_UNIT": "percent",
    }


@pytest.mark.integration  # the dashboard reads the queue from Redis
def test_every_page_survives_absurd_values_stored_before_they_were_refused(admin_client):
    """Rows written by an older release (or by hand) may hold year 1 / 9999 and 1.5e308: no page may 500."""
    far, early = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC)
    room = Room.objects.create(room_name="/legacy", created_at=early, last_session_started_at=far)
    sessions = [
        RoomSession.objects.create(
            room=room,
            room_session_id=f"legacy-{i}",
            room_name="/legacy",
            started_at=start,
            ended_at=end,
            total_participant_minutes=1.5e308,
        )
        for i, (start, end) in enumerate(((far, far), (early, early), (early, None)))
    ]
    for i, session in enumerate(sessions):
        Participant.objects.create(
            room_session=session, room_id=room.pk, participant_id=f"p{i}", identity=f"person-{i}",
            external_id="..", joined_at=session.started_at, left_at=session.ended_at, duration_seconds=1e308,
        )  # fmt: skip
    SyncRun.objects.create(kind="full", trigger="command", dedup_key="org", status="succeeded")

    pages = (
        *(f"/insights/sessions/{s.pk}/" for s in sessions),
        f"/insights/rooms/{room.pk}/",
        *(f"/insights/connections/{p.pk}/quality/" for p in Participant.objects.all()),
        *(f"/admin/insights_app/{model}/" for model in ("room", "roomsession", "participant", "syncrun")),
        *(f"/admin/insights_app/participant/{p.pk}/change/" for p in Participant.objects.all()),
        *(f"/admin/insights_app/roomsession/{s.pk}/change/" for s in sessions),
    )
    report = {}
    for zone in ("UTC", "Asia/Tokyo"):
        with override_settings(TIME_ZONE=zone):
            crawled, failures = crawl(admin_client, PAGE_LIMIT * 5, pages)
        report[zone] = failures
        print(f"{zone}: crawled {crawled} pages, {len(failures)} answered 5xx", *failures, sep="\n  ")

    assert report == {"UTC": [], "Asia/Tokyo": []}
