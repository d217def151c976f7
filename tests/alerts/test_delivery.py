"""Alert delivery and control: webhook retries over real HTTP, secrets, silencing, admin, command, checks."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from insights_app.alerts.engine import evaluate
from insights_app.models import Alert, SyncRun
from tests.helpers.alerts import HOOK_PATH, HOOK_TOKEN, HookServer, drain

pytestmark = pytest.mark.django_db(transaction=True)


def failed_runs(n: int, error: str = "/insights/rooms answered 502 on 6 attempts") -> list[SyncRun]:
    now = timezone.now()
    return [
        SyncRun.objects.create(
            kind="incremental",
            dedup_key=f"org-{i}",
            trigger="schedule",
            status="failed",
            finished_at=now + timedelta(milliseconds=i + 1),
            error=error,
        )
        for i in range(n)
    ]


@pytest.fixture
def hook():
    server = HookServer()
    yield server
    server.stop()


def configure(settings, hook: HookServer, **alerts) -> None:
    settings.WHEREBY_INSIGHTS = {
        "QUEUE": "whereby_insights",
        "ALERTS": {
            "EMAIL_TO": ["ops@example.com"],
            "WEBHOOK_URL": hook.url,
            "WEBHOOK_TOKEN": HOOK_TOKEN,
            "WEBHOOK_RETRY_INTERVALS": [0, 0],
            "WEBHOOK_TIMEOUT": 5,
            "QUEUE": "default",
            **alerts,
        },
    }


def test_the_webhook_body_is_what_slack_and_teams_accept_and_carries_the_token(settings, redis_conn, hook):
    configure(settings, hook)
    failed_runs(3)

    evaluate()
    drain()

    [post] = hook.posts
    assert post["path"] == HOOK_PATH and post["type"] == "application/json"
    assert post["auth"] == f"Bearer {HOOK_TOKEN}"
    assert set(post["body"]) == {"text"} and "3 Whereby syncs failed in a row" in post["body"]["text"]
    assert Alert.objects.get().deliveries["webhook:raised"].startswith("sent ")


def test_teams_workflow_format_is_an_adaptive_card(settings, redis_conn, hook):
    configure(settings, hook, WEBHOOK_FORMAT="teams")
    failed_runs(3)

    evaluate()
    drain()

    body = hook.posts[0]["body"]
    assert body["type"] == "message"
    card = body["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert "failed in a row" in card["content"]["body"][0]["inlines"][0]["text"]


def test_a_failing_hook_is_retried_by_rq_and_succeeds(settings, redis_conn, hook):
    configure(settings, hook)
    hook.fail = 2
    failed_runs(3)

    evaluate()
    drain()

    assert hook.attempts == 3 and len(hook.posts) == 1
    assert "attempt 3" in Alert.objects.get().deliveries["webhook:raised"]


def test_a_hook_that_keeps_failing_is_retried_then_recorded_without_its_secrets(
    settings, redis_conn, hook, caplog, admin_client
):
    configure(settings, hook)
    hook.fail = 100
    failed_runs(3)
    caplog.set_level(logging.INFO)

    evaluate()
    drain()

    assert hook.attempts == 3 and hook.posts == []
    alert = Alert.objects.get()
    assert alert.deliveries["webhook:raised"] == (
        "failed after 3 attempts: the alert webhook answered HTTP 500"
    )
    assert alert.notified_at is not None  # mail and signal went out all the same
    stored = " ".join(str(v) for v in redis_conn.mget(redis_conn.keys("*")) if v)
    for secret in (HOOK_PATH, HOOK_TOKEN, "s3cr3tHookPath9x"):
        assert secret not in caplog.text
        assert secret not in str(alert.deliveries)
        assert secret.encode() not in stored.encode()
    page = admin_client.get(reverse("admin:insights_app_alert_change", args=[alert.pk])).content.decode()
    assert "failed after 3 attempts" in page and "s3cr3tHookPath9x" not in page and HOOK_TOKEN not in page


def test_an_unreachable_hook_is_recorded_by_kind_without_the_url(settings, redis_conn, hook):
    configure(settings, hook, WEBHOOK_URL="http://127.0.0.1:9/services/T0/B0/topsecretpath")
    failed_runs(3)

    evaluate()
    drain()

    record = Alert.objects.get().deliveries["webhook:raised"]
    assert record == "failed after 3 attempts: ConnectionError posting to the alert webhook"


@pytest.mark.integration  # the hook fixture serves the alert webhook
def test_the_hook_url_and_token_are_masked_in_the_settings_dump(settings, hook):
    from insights_app.alerts.settings import alert_settings, masked
    from insights_app.conf import get_settings

    configure(settings, hook)
    assert HOOK_PATH not in repr(get_settings().as_dict()) and HOOK_TOKEN not in repr(
        get_settings().as_dict()
    )
    assert HOOK_PATH not in repr(masked(alert_settings()))


def test_the_database_allows_one_open_alert_per_rule_and_subject(db):
    Alert.objects.create(rule="stale_data", subject="org", title="a")
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(rule="stale_data", subject="org", title="b")
    Alert.objects.filter(subject="org").update(resolved_at=timezone.now())
    Alert.objects.create(rule="stale_data", subject="org", title="c")  # resolved ones do not count
    assert Alert.objects.count() == 2


def test_a_silenced_alert_resolves_and_reopens_without_notifying(settings, redis_conn, hook, mailoutbox):
    configure(settings, hook)
    failed_runs(3)
    evaluate()
    drain()
    alert = Alert.objects.get()
    Alert.objects.filter(pk=alert.pk).update(silenced_until=timezone.now() + timedelta(hours=1))
    assert len(mailoutbox) == 1

    SyncRun.objects.create(
        kind="incremental", dedup_key="ok", trigger="schedule", status="succeeded", finished_at=timezone.now()
    )
    evaluate()  # clears: resolved, but silenced, so nobody is told
    failed_runs(3)
    evaluate()  # back: a new alert, silenced like the last one
    drain()

    assert Alert.objects.count() == 2
    reopened = Alert.objects.get(resolved_at__isnull=True)
    assert reopened.silenced_until is not None and reopened.notified_at is None
    assert len(mailoutbox) == 1 and len(hook.posts) == 1

    # The silence ends while the condition holds: people hear about it now, once.
    Alert.objects.filter(pk=reopened.pk).update(silenced_until=timezone.now() - timedelta(seconds=1))
    evaluate()
    evaluate()
    drain()
    assert len(mailoutbox) == 2 and len(hook.posts) == 2
    assert Alert.objects.get(pk=reopened.pk).notified_at is not None


def test_admins_get_the_mail_when_no_address_is_set(settings, redis_conn, mailoutbox):
    settings.ADMINS = [("Ops", "admin@example.com")]
    settings.WHEREBY_INSIGHTS = {"ALERTS": {}}
    failed_runs(3)

    evaluate()

    assert [m.to for m in mailoutbox] == [["admin@example.com"]]
    assert "3 Whereby syncs failed in a row" in mailoutbox[0].subject


def test_a_room_name_with_newlines_cannot_inject_mail_headers(settings, redis_conn, mailoutbox):
    from insights_app.alerts.email import send_alert_mail

    settings.WHEREBY_INSIGHTS = {"ALERTS": {"EMAIL_TO": ["ops@example.com"]}}
    alert = Alert.objects.create(rule="quality", subject="room:1", title="room /a\r\nBcc: evil@example.com")

    send_alert_mail(alert, "raised")

    assert mailoutbox[0].to == ["ops@example.com"] and not mailoutbox[0].bcc
    assert "\n" not in mailoutbox[0].subject


# admin -------------------------------------------------------------------------------------------


@pytest.fixture
def staff(django_user_model):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("ops", password="x", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_alert", "view_syncrun", "silence_alert"])
    )
    return user


@pytest.mark.integration  # the dashboard reads the queue from Redis
def test_open_alerts_show_on_the_dashboard_and_admin_index_with_cause_links(client, staff, settings):
    settings.WHEREBY_INSIGHTS = {"ALERTS": {"EMAIL_TO": []}}
    [*_, last] = failed_runs(3)
    evaluate()
    Alert.objects.create(
        rule="quality",
        subject="room:7",
        title="Poor quality in <script>x</script>",
        details={"room_id": 7, "room_name": "/r&d"},
    )
    client.force_login(staff)

    for url in (reverse("admin:index"), reverse("admin:insights_app_syncrun_dashboard")):
        html = client.get(url).content.decode()
        assert 'id="insights-alerts"' in html and "2 open alerts" in html
        assert reverse("admin:insights_app_syncrun_change", args=[last.pk]) in html
        assert "/insights/quality/?room=%2Fr%26d&amp;period=7d" in html
        assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html


@pytest.mark.integration  # the dashboard reads the queue from Redis
def test_no_panel_without_permission_to_view_alerts(client, django_user_model, settings):
    from django.contrib.auth.models import Permission

    settings.WHEREBY_INSIGHTS = {"ALERTS": {"EMAIL_TO": []}}
    failed_runs(3)
    evaluate()
    user = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_syncrun"))
    client.force_login(user)

    assert 'id="insights-alerts"' not in client.get(reverse("admin:index")).content.decode()


@pytest.mark.integration  # the alert pages read the health from Redis
def test_the_alert_list_is_read_only_filters_by_state_and_silences(client, staff, settings):
    settings.WHEREBY_INSIGHTS = {"ALERTS": {"EMAIL_TO": []}}
    failed_runs(3)
    evaluate()
    Alert.objects.create(rule="stale_data", subject="org", title="old one", resolved_at=timezone.now())
    client.force_login(staff)
    url = reverse("admin:insights_app_alert_changelist")

    assert "old one" not in client.get(url + "?state=open").content.decode()
    assert "old one" in client.get(url + "?state=resolved").content.decode()
    assert "old one" in client.get(url + "?rule__exact=stale_data").content.decode()
    assert client.get(reverse("admin:insights_app_alert_add")).status_code == 403
    alert = Alert.objects.get(resolved_at__isnull=True)
    response = client.post(url, {"action": "silence_day", "_selected_action": [alert.pk]}, follow=True)
    assert "silenced until" in response.content.decode()
    alert.refresh_from_db()
    assert alert.silenced_until > timezone.now() + timedelta(hours=23)


@pytest.mark.integration  # the alert pages read the health from Redis
def test_silencing_needs_its_permission(client, django_user_model, settings):
    from django.contrib.auth.models import Permission

    settings.WHEREBY_INSIGHTS = {"ALERTS": {"EMAIL_TO": []}}
    failed_runs(3)
    evaluate()
    user = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_alert"))
    client.force_login(user)
    alert = Alert.objects.get()

    client.post(
        reverse("admin:insights_app_alert_changelist"),
        {"action": "silence_day", "_selected_action": [alert.pk]},
    )

    alert.refresh_from_db()
    assert alert.silenced_until is None


# command, schedule, checks -------------------------------------------------------------------------


@pytest.mark.integration  # the rules read the health from Redis
def test_the_command_evaluates_and_lists_open_alerts(settings, capsys):
    settings.WHEREBY_INSIGHTS = {"ALERTS": {"EMAIL_TO": []}}
    call_command("insights_alerts", "--check")  # nothing yet
    assert "No open alerts." in capsys.readouterr().out
    failed_runs(3)

    with pytest.raises(SystemExit) as exit_info:
        call_command("insights_alerts", "--check")

    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert "1 raised" in out and "OPEN failing_syncs org: 3 Whereby syncs failed in a row" in out


def test_the_schedule_evaluates_the_alerts_every_minute(settings, redis_conn):
    from django_rq.cron import DjangoCronScheduler

    settings.WHEREBY_INSIGHTS = {"SCHEDULE_INTERVAL_MINUTES": 5}
    scheduler = DjangoCronScheduler()
    scheduler.load_config_from_file("insights_app.cron")
    jobs = {job.name: job for job in scheduler.get_jobs()}

    assert jobs["insights-alerts"].interval == 60
    assert jobs["insights-alerts"].queue_name == "whereby_insights"


@pytest.mark.integration  # the system checks read the sites' roll-call in Redis (W005)
@pytest.mark.parametrize(
    ("alerts", "code", "text"),
    [
        ("yes", "E016", "must be a dict"),
        ({"EMAIL_TOO": ["a@b.c"]}, "W004", "Did you mean 'EMAIL_TO'?"),
        ({"QUALITY_MIN_CONNECTIONS": "20"}, "E017", "QUALITY_MIN_CONNECTIONS must be int, at least 1"),
        ({"QUALITY_DEGRADED_PERCENT": 140}, "E017", "at most 100"),
        ({"WEBHOOK_TIMEOUT": float("nan")}, "E017", "WEBHOOK_TIMEOUT must be"),
        ({"EMAIL_TO": "ops@example.com"}, "E017", "EMAIL_TO must be a list"),
        ({"DISABLED_RULES": ["stale"]}, "E017", "DISABLED_RULES"),
        ({"WEBHOOK_FORMAT": "discord"}, "E017", "WEBHOOK_FORMAT"),
        ({"WEBHOOK_URL": "hooks.slack.com/services/T0/B0/secretpart"}, "E018", "not an http(s) URL"),
        ({"WEBHOOK_URL": "http://hooks.example.com/services/T0/B0/secretpart"}, "E018", "plain http"),
    ],
)
def test_alert_settings_are_checked_without_repeating_secrets(settings, alerts, code, text):
    from django.core.checks import run_checks

    settings.DEBUG = False
    settings.WHEREBY_INSIGHTS = {"API_KEY": "k", "ALERTS": alerts}
    found = [m for m in run_checks(tags=["insights_app"]) if m.id == f"insights_app.{code}"]

    assert len(found) == 1 and text in found[0].msg + " " + found[0].hint
    assert "secretpart" not in found[0].msg + found[0].hint


@pytest.mark.integration  # the system checks read the sites' roll-call in Redis (W005)
def test_the_default_alert_settings_pass_the_checks(settings):
    from django.core.checks import run_checks

    # A webhook secret too: without one the routed webhook URL warns (W101), which is not the alerts' doing.
    settings.WHEREBY_INSIGHTS = {"API_KEY": "k", "WEBHOOK_SECRET": "s"}
    assert [m.id for m in run_checks(tags=["insights_app"]) if m.id.startswith("insights_app.")] == []


@pytest.mark.integration  # the alert pages read the health from Redis
def test_a_silence_reads_the_same_on_every_alert_page_whatever_this_hosts_clock_says(
    client, staff, settings, time_machine, monkeypatch
):
    from insights_app.models import clock

    settings.WHEREBY_INSIGHTS = {"ALERTS": {"EMAIL_TO": []}}
    failed_runs(3)
    evaluate()
    alert = Alert.objects.get()
    Alert.objects.filter(pk=alert.pk).update(silenced_until=clock.db_now() + timedelta(hours=1))
    # This web host's clock runs two days ahead; the database keeps the real time, as a server elsewhere.
    time_machine.move_to(timezone.now() + timedelta(days=2), tick=True)
    monkeypatch.setattr(clock, "follows_host_clock", lambda: False)
    client.force_login(staff)

    changelist = client.get(reverse("admin:insights_app_alert_changelist")).content.decode()
    assert "open, silenced" in changelist
    silenced = client.get(reverse("admin:insights_app_alert_changelist") + "?state=silenced")
    assert alert.title in silenced.content.decode()
    panel = client.get(reverse("admin:index")).content.decode()
    assert '<span class="quiet">(silenced)</span>' in panel
