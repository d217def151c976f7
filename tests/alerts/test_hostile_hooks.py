"""Issue 26: alert hooks and mail within a total deadline, every outcome recorded; chat formats
escaped by their own rules; settings bounded (timeouts, retries, SITE_URL only http(s))."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from markdown_it import MarkdownIt

from insights_app.alerts.delivery import notify
from insights_app.alerts.webhook import payload
from insights_app.models import Alert
from tests.helpers.alerts import HookServer, drain

pytestmark = pytest.mark.django_db(transaction=True)

PHISH = "[Reset password](https://evil.example/phish)"
HOSTILE = f"{PHISH} <https://evil.example|click> *bold* &amp; # Heading\n- item"


@pytest.fixture
def hook():
    server = HookServer()
    yield server
    server.stop()


def configure(settings, hook_url: str | None = None, **alerts) -> None:
    settings.WHEREBY_INSIGHTS = {
        "QUEUE": "whereby_insights",
        "ALERTS": {
            "EMAIL_TO": [],
            "WEBHOOK_URL": hook_url,
            "QUEUE": "default",
            "SITE_URL": "https://intranet.example.com",
            **alerts,
        },
    }


def hostile_alert(room: int = 7) -> Alert:
    return Alert.objects.create(
        rule="quality",
        subject=f"room:{room}",
        title=f"Poor network quality in room {HOSTILE}",
        message=f"Room {HOSTILE} had packet loss.",
        details={"room_id": 7, "room_name": HOSTILE},
    )


def test_a_teams_card_shows_a_hostile_room_name_as_text_never_as_markdown(settings):
    configure(settings)
    card = payload(hostile_alert(), "raised", "teams")["attachments"][0]["content"]

    # Adaptive Cards read Markdown in TextBlock text only; TextRun inlines are plain text.
    elements = card["body"]
    assert all(e["type"] != "TextBlock" for e in elements)
    runs = [run["text"] for e in elements for run in e["inlines"]]
    assert any(PHISH in text for text in runs)
    # The only link is ours, on a button.
    assert [a["url"] for a in card["actions"]] == [
        "https://intranet.example.com/insights/quality/?room=%5BReset+password%5D%28https%3A%2F%2Fevil.example"
        "%2Fphish%29+%3Chttps%3A%2F%2Fevil.example%7Cclick%3E+%2Abold%2A+%26amp%3B+%23+Heading%0A-+item&period=7d"
    ]


def test_the_markdown_format_renders_a_hostile_room_name_as_literal_text(settings):
    configure(settings)
    text = payload(hostile_alert(), "raised", "markdown")["text"]

    html = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(text)
    assert "evil.example" in html
    assert html.count("<a ") == 1 and 'href="https://intranet.example.com/' in html
    assert "<em>" not in html and "<h1>" not in html and "<li>" not in html
    assert PHISH in html  # shown as typed


def test_the_slack_format_escapes_its_own_control_characters_only(settings):
    configure(settings)
    text = payload(hostile_alert(), "raised", "slack")["text"]

    # Slack links are <url|label>; the only one is ours, the room's angle brackets are entities.
    assert text.count("<") == 1 and text.endswith("|Show the cause>")
    assert "&lt;https://evil.example|click&gt;" in text and "&amp;amp;" in text


@pytest.mark.integration  # the hook fixture serves the alert webhook
def test_a_trickling_hook_fails_each_attempt_at_its_deadline_and_every_outcome_is_recorded(settings, hook):
    hook.trickle = 0.2  # ~8 s for the whole answer, a byte at a time: no single read times out
    configure(settings, hook.url, WEBHOOK_TIMEOUT=1, WEBHOOK_RETRY_INTERVALS=[0, 3600])
    alert = hostile_alert()
    notify(alert, "raised")

    began = time.monotonic()
    drain()  # the first attempt and the immediate retry; the third waits an hour in RQ's scheduler
    elapsed = time.monotonic() - began

    alert.refresh_from_db()
    outcome = alert.deliveries["webhook:raised"]
    assert outcome == (
        "attempt 2 failed: the alert webhook gave no complete answer within 1 s; retry in 3600 s"
    )
    assert hook.attempts == 2
    assert elapsed < 2 * 1 + 8  # two attempts of 1 s each, with room for a loaded machine


@pytest.mark.integration  # the hook fixture serves the alert webhook
def test_the_last_failed_attempt_is_recorded_as_the_outcome(settings, hook):
    hook.trickle = 0.2
    configure(settings, hook.url, WEBHOOK_TIMEOUT=1, WEBHOOK_RETRY_INTERVALS=[0])
    alert = hostile_alert()
    notify(alert, "raised")

    drain()

    alert.refresh_from_db()
    assert alert.deliveries["webhook:raised"] == (
        "failed after 2 attempts: the alert webhook gave no complete answer within 1 s"
    )


def test_webhook_posts_can_have_their_own_queue(settings, hook, redis_conn):
    settings.RQ_QUEUES = {**settings.RQ_QUEUES, "alert_hooks": settings.RQ_QUEUES["default"]}
    configure(settings, hook.url, WEBHOOK_QUEUE="alert_hooks", WEBHOOK_RETRY_INTERVALS=[])
    alert = hostile_alert()
    notify(alert, "raised")

    drain("default")
    assert hook.attempts == 0
    drain("alert_hooks")
    assert hook.attempts == 1 and Alert.objects.get().deliveries["webhook:raised"].startswith("sent ")


class TricklingSmtpServer:
    """A mail server that sends its greeting one byte every half second."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            for byte in b"220 mail.example.com ESMTP a very slow server indeed\r\n" * 4:
                if self.stopped.wait(0.5):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    def stop(self) -> None:
        self.stopped.set()
        self.sock.close()


@pytest.mark.integration  # serves a trickling mail server
def test_a_trickling_mail_server_fails_the_mail_at_its_deadline_and_spares_the_other_channels(settings):
    smtp = TricklingSmtpServer()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp.port
        configure(settings, EMAIL_TO=["ops@example.com"], EMAIL_TIMEOUT=1)
        began = time.monotonic()
        tick: dict[str, bool] = {}
        outcomes = [notify(hostile_alert(room), "raised", tick) for room in range(3)]
        elapsed = time.monotonic() - began
    finally:
        smtp.stop()

    assert outcomes[0]["email"] == "failed: DeadlineExceeded"
    # The tick's later mails do not wait for the same dead server again.
    assert [o["email"] for o in outcomes[1:]] == [
        "skipped: the mail server missed its deadline earlier in this tick"
    ] * 2
    assert all(o["signal"] == "sent" for o in outcomes)
    assert elapsed < 1 + 8


@pytest.mark.integration  # the system checks read the sites' roll-call in Redis (W005)
@pytest.mark.parametrize(
    ("alerts", "text"),
    [
        ({"WEBHOOK_TIMEOUT": 1e9}, "WEBHOOK_TIMEOUT must be at most 60"),
        ({"EMAIL_TIMEOUT": 1e9}, "EMAIL_TIMEOUT must be at most 300"),
        ({"WEBHOOK_RETRY_INTERVALS": [0] * 11}, "at most 10 retries"),
        ({"WEBHOOK_RETRY_INTERVALS": [10**9]}, "from 0 to 86400"),
        ({"SITE_URL": "javascript:alert(1)"}, "SITE_URL must be an absolute http(s) URL"),
        ({"SITE_URL": "//evil.example"}, "SITE_URL must be an absolute http(s) URL"),
        ({"WEBHOOK_QUEUE": "nowhere"}, "WEBHOOK_QUEUE 'nowhere' is not in RQ_QUEUES"),
    ],
)
def test_alert_settings_have_upper_bounds_and_an_http_site_url(settings, alerts, text):
    from django.core.checks import run_checks

    settings.WHEREBY_INSIGHTS = {"API_KEY": "k", "ALERTS": alerts}
    found = [m.msg for m in run_checks(tags=["insights_app"]) if m.id == "insights_app.E017"]
    assert len(found) == 1 and text in found[0]


@pytest.mark.integration  # the system checks read the sites' roll-call in Redis (W005)
@pytest.mark.parametrize(("key", "value"), [("MAX_RETRIES", 10**9), ("MAX_THROTTLE_RETRIES", 10**9)])
def test_api_retry_counts_have_upper_bounds(settings, key, value):
    from django.core.checks import run_checks

    settings.WHEREBY_INSIGHTS = {"API_KEY": "k", key: value}
    found = [m.msg for m in run_checks(tags=["insights_app"]) if m.id == "insights_app.E007"]
    assert len(found) == 1 and key in found[0] and "at most" in found[0]


@pytest.mark.parametrize("style", ["slack", "markdown", "teams"])
def test_a_script_site_url_never_becomes_a_link(settings, style):
    configure(settings, SITE_URL="javascript:alert(1)")
    assert "javascript" not in str(payload(hostile_alert(), "raised", style))
