"""A fresh site's alerts: a deployment check names the ways to a recipient; a mail to nobody says so."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.checks import run_checks
from django.utils import timezone

from insights_app.alerts.engine import evaluate
from insights_app.models import Alert, SyncRun

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def clean_redis(redis_conn):
    """The checks reach the queue's Redis (the shared-queue check, W005): a clean test database."""
    return redis_conn


def three_failed_runs() -> None:
    now = timezone.now()
    for i in range(3):
        SyncRun.objects.create(
            kind="incremental",
            dedup_key=f"org-{i}",
            trigger="schedule",
            status="failed",
            finished_at=now + timedelta(milliseconds=i + 1),
            error="/insights/rooms answered 502 on 6 attempts",
        )


def deploy_check_ids() -> list[str]:
    return [m.id for m in run_checks(tags=["insights_app"], include_deployment_checks=True)]


def test_an_alert_with_empty_admins_is_recorded_as_reaching_no_one(settings, redis_conn, mailoutbox):
    settings.ADMINS = []
    settings.WHEREBY_INSIGHTS = {"ALERTS": {}}
    three_failed_runs()

    evaluate()

    alert = Alert.objects.get()
    assert mailoutbox == []
    assert alert.deliveries["email:raised"].startswith("no recipients")
    assert "sent" not in alert.deliveries["email:raised"]


def test_the_deploy_check_names_the_three_ways_to_a_recipient(settings):
    settings.ADMINS = []
    settings.WHEREBY_INSIGHTS = {"API_KEY": "k", "WEBHOOK_SECRET": "s", "ALERTS": {}}
    (warning,) = [
        m for m in run_checks(tags=["insights_app"], include_deployment_checks=True) if m.id.endswith("W006")
    ]
    assert "ADMINS" in warning.hint and "EMAIL_TO" in warning.hint and "WEBHOOK_URL" in warning.hint
    # Not before every command's output: only `check --deploy` runs it.
    assert "insights_app.W006" not in [m.id for m in run_checks(tags=["insights_app"])]


@pytest.mark.parametrize(
    ("admins", "alerts"),
    [
        ([("Ops", "ops@example.com")], {}),
        ([], {"EMAIL_TO": ["ops@example.com"]}),
        ([], {"WEBHOOK_URL": "https://hooks.example.com/services/T0/B0/x"}),
        ([], {"EMAIL_TO": []}),  # no mail, said on purpose
    ],
)
def test_any_recipient_or_a_deliberate_no_silences_the_check(settings, admins, alerts):
    settings.ADMINS = admins
    settings.WHEREBY_INSIGHTS = {"API_KEY": "k", "WEBHOOK_SECRET": "s", "ALERTS": alerts}
    assert "insights_app.W006" not in deploy_check_ids()


def test_the_alerts_command_shows_times_in_the_sites_zone_and_names_it(settings, capsys):
    from django.core.management import call_command

    settings.TIME_ZONE = "Europe/Oslo"
    settings.WHEREBY_INSIGHTS = {"ALERTS": {"EMAIL_TO": []}}
    three_failed_runs()
    with pytest.raises(SystemExit):
        call_command("insights_alerts", "--check")
    out = capsys.readouterr().out
    seen = Alert.objects.get().first_seen_at
    oslo = timezone.localtime(seen).strftime("%Y-%m-%d %H:%M")
    assert f"since {oslo} Europe/Oslo" in out, out
