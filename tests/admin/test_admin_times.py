"""Every admin list and change page of the app writes instants as the reports do: ``YYYY-MM-DD HH:MM`` in
the site's zone, in every language (Django's own format would be "Dec. 6, 2026, 8:39 a.m.")."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import translation

from insights_app.models import Alert, PersonTombstone, PrivacyAudit, WebhookEvent

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 12, 6, 7, 39, tzinfo=dt.UTC)  # 08:39 in Oslo
LOCAL = "2026-12-06 08:39"


@pytest.fixture
def rows():
    Alert.objects.create(
        rule="sync_failed", subject="org", title="Syncs fail", first_seen_at=AT, last_seen_at=AT
    )
    WebhookEvent.objects.create(event_id="e-1", type="room.client.joined", created_at=AT, received_at=AT)
    PrivacyAudit.objects.create(action="erasure", mode="pseudonymise", at=AT, trigger="admin", cutoff=AT)
    PersonTombstone.objects.create(kind="external_id", criterion_hash="ab" * 32, mode="delete", created_at=AT)


@pytest.fixture
def boss(client):
    client.force_login(get_user_model().objects.create_superuser("boss", "boss@example.com", "pw"))
    return client


@pytest.mark.parametrize("language", ["en", "de", "nb"])
@pytest.mark.parametrize(
    ("model", "columns"),
    [
        (Alert, ("first_seen_at", "last_seen_at")),
        (WebhookEvent, ("created_at", "received_at")),
        (PrivacyAudit, ("at",)),
        (PersonTombstone, ("created_at",)),
    ],
)
def test_lists_and_pages_write_instants_like_the_reports_in_the_site_zone(
    boss, rows, settings, language, model, columns
):
    settings.TIME_ZONE = "Europe/Oslo"
    opts = model._meta
    with translation.override(language):
        listing = boss.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")).content.decode()
        change = boss.get(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[model.objects.get().pk])
        ).content.decode()
    for column in columns:
        cell = re.search(rf'<t[dh] class="field-{column}[^"]*">(.*?)</t[dh]>', listing, re.S)
        assert cell, f"{column} listed"
        assert re.sub(r"<[^>]+>", "", cell.group(1)).strip() == LOCAL, column
    # The change page: every instant in the same format, none in Django's.
    assert LOCAL in change
    assert not re.search(r"\b(a\.m\.|p\.m\.|Dec\. 6|6\. Dezember|6\. desember)", change)
