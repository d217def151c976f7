"""An alert raised by a worker of a German or Norwegian site mails in the site's language."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from insights_app.alerts.engine import evaluate
from insights_app.models import Alert, SyncRun
from tests.helpers.leftover_english import leftover_english, shown_texts, translated_words

pytestmark = pytest.mark.django_db(transaction=True)


def raise_failing_syncs_alert(settings, language: str):
    """Three failed runs in a row, evaluated outside any request (as the schedule's job does)."""
    settings.LANGUAGE_CODE = language
    settings.WHEREBY_INSIGHTS = {"ALERTS": {"EMAIL_TO": ["ops@example.com"]}}
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
    evaluate()


def mail_texts(mail) -> set[str]:
    html = next(body for body, kind in mail.alternatives if kind == "text/html")
    return shown_texts(html) | {line for line in mail.body.splitlines() if line.strip()} | {mail.subject}


@pytest.mark.parametrize(
    ("language", "subject"),
    [
        ("de", "[Whereby Insights] Warnung: 3 Whereby-Synchronisierungen nacheinander fehlgeschlagen"),
        ("nb", "[Whereby Insights] Varsel: 3 Whereby-synkroniseringer feilet på rad"),
    ],
)
def test_the_alert_mail_speaks_the_sites_language(settings, redis_conn, mailoutbox, language, subject):
    raise_failing_syncs_alert(settings, "en")
    english = mail_texts(mailoutbox[0])
    Alert.objects.all().delete()
    SyncRun.objects.all().delete()
    mailoutbox.clear()

    raise_failing_syncs_alert(settings, language)

    (mail,) = mailoutbox
    assert mail.subject == subject
    data = {
        "/insights/rooms answered 502 on 6 attempts",
        "Whereby Insights",
    }  # the error as stored; the prefix
    assert not leftover_english(english, mail_texts(mail), data, translated_words(language))
