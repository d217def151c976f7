"""Every report page and the admin's app pages, read in German and in Norwegian: no English label left."""

from __future__ import annotations

import csv
import html
import json
import re
from collections import Counter, deque
from html import unescape
from urllib.parse import parse_qs, urldefrag, urlsplit

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import models
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.utils import timezone, translation

from insights_app.admin.links import ROOM_CHARS
from insights_app.conf import get_settings
from insights_app.display.names import middle_ellipsis
from insights_app.models import Alert, WebhookEvent
from insights_app.reports.charts import AXIS_LABEL_CHARS
from tests.helpers import configure, run_sync
from tests.helpers.admin_data import make_user
from tests.helpers.leftover_english import (
    django_gaps,
    figures,
    json_texts,
    leftover_english,
    shown_texts,
    translated_words,
)

# The dashboard asks Redis how its workers are: integration even where no simulator runs.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.integration]

LANGUAGES = ("de", "nb")
PER_URL_NAME = 2
CSV_LINK = re.compile(r"""href\s*=\s*["'](\?[^"']*\bcsv=[^"']*)["']""")
NAMED_PARTS = re.compile(r"%[aAbBp]")  # d3-time-format's English names: weekday, month, AM/PM
HREF = re.compile(r"""href\s*=\s*["']([^"'#][^"']*)["']""")
SKIP = ("/logout", "/delete/", "/add/", "/password/", "/history/", "csv", "format=", "/assets/")


def admin_pages() -> list[str]:
    """The admin's index, the app's index, the dashboard and every list of the app."""
    pages = [reverse("admin:index"), reverse("admin:app_list", args=["insights_app"])]
    for model in admin.site._registry:
        if model._meta.app_label == "insights_app":
            try:
                pages.append(reverse(f"admin:insights_app_{model._meta.model_name}_changelist"))
            except NoReverseMatch:
                continue
    pages.append(reverse("admin:insights_app_syncrun_dashboard"))
    return pages


def crawl(client, start: list[str]) -> list[str]:
    """Pages under /insights/ and the app's admin, reached by following links (a few per URL name)."""
    seen: set[str] = set()
    per_name: Counter[str] = Counter()
    queue, pages = deque(start), []
    while queue:
        url = urldefrag(queue.popleft()).url
        if url in seen or any(part in url for part in SKIP):
            continue
        seen.add(url)
        path = urlsplit(url).path
        if not (
            path.startswith("/insights/") or path.startswith("/admin/insights_app/") or path == "/admin/"
        ):
            continue
        try:
            name = resolve(path).view_name
        except Resolver404:
            continue
        if per_name[name] >= PER_URL_NAME and url not in start:
            continue
        response = client.get(url)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        per_name[name] += 1
        pages.append(url)
        queue.extend(HREF.findall(response.content.decode()))
    return pages


NAME_LIMITS = (ROOM_CHARS, AXIS_LABEL_CHARS)


def stored_texts() -> set[str]:
    """Every string the database holds: names, ids, payloads (they read the same in any language)."""
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                found.add(str(key))
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif node is not None:
            text = " ".join(str(node).split())
            found.update((text, html.escape(text, quote=False)))  # charts hold names escaped

    for model in [*apps.get_app_config("insights_app").get_models(), apps.get_model("auth", "User")]:
        if not model._meta.managed:
            continue
        fields = [
            f.name
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
            and not f.choices  # choices are shown by their (translated) label
        ]
        for row in model.objects.values_list(*fields):
            for value in row:
                walk(value)
                if isinstance(value, dict | list):
                    for keys_sorted in (False, True):
                        for ascii_only in (False, True):  # the admin shows payloads either way
                            dumped = json.dumps(
                                value, indent=2, ensure_ascii=ascii_only, sort_keys=keys_sorted
                            )
                            found.add(" ".join(dumped.split()))
    found.add(get_settings().QUEUE)  # the site's queue name, quoted in the dashboard's hints
    # Long names are shown cut in the middle (axis labels, admin lists): still data, in any language.
    cut = {middle_ellipsis(text, limit) for text in list(found) for limit in NAME_LIMITS}
    found |= cut | {html.escape(text, quote=False) for text in cut}
    return found


@pytest.fixture
def site(settings, simulator_factory, client, django_user_model):
    """A synced organisation (samples too), an open alert, a webhook event, a superuser signed in."""
    server = simulator_factory(seed=3, rooms=3, sessions_per_room=3, participants_per_session=3)
    configure(settings, server)
    settings.LANGUAGE_CODE = "en"
    run = run_sync("full")
    assert run.status in ("succeeded", "partial"), run.error
    now = timezone.now()
    Alert.objects.create(rule="failing_syncs", subject="org", title="Sync failing", first_seen_at=now)
    WebhookEvent.objects.create(event_id="ev-1", type="room.client.joined", received_at=now, room_name="/r")
    client.force_login(make_user(django_user_model, "boss", is_superuser=True))
    return client


def render(client, url: str, language: str) -> str:
    with translation.override(language):
        response = client.get(url)
    # A refused filter answers 400 with the page and its error (reports/invalid.html).
    assert response.status_code in (200, 400), (url, language, response.status_code)
    if response.streaming:
        return b"".join(response.streaming_content).decode("utf-8-sig")
    return response.content.decode()


def header_cells(download: str) -> set[str]:
    """The cells of a CSV download's header row."""
    return {cell.strip() for cell in next(csv.reader(download.splitlines()[:1])) if cell.strip()}


def texts_of(client, url: str, language: str, downloads: set[str]) -> set[str]:
    if url.endswith("status.json"):
        with translation.override(language):
            return json_texts(client.get(url).json())
    page = render(client, url, language)
    return header_cells(page) if url in downloads else shown_texts(page)


def english_left(client, urls: list[str], downloads: set[str] = frozenset()) -> dict[str, list[str]]:
    """Per language and URL, the texts still holding English words of the same URL in English."""
    # Stored data, and what the user typed into the URL (a refused filter quotes it back).
    data = stored_texts() | {v for url in urls for vs in parse_qs(urlsplit(url).query).values() for v in vs}
    english = {url: texts_of(client, url, "en", downloads) for url in urls}
    left: dict[str, list[str]] = {}
    for language in LANGUAGES:
        allowed, gaps = translated_words(language), django_gaps(language)
        # What a page of Django's own shows (its admin chrome, where Django's Norwegian has gaps, and the
        # host's branding) is not the app's to translate.
        theirs = shown_texts(render(client, reverse("admin:password_change"), language))
        host_title = {part for text in theirs for part in text.split(" | ")}  # "<page> | <site title>"
        for url in urls:
            shown = texts_of(client, url, language, downloads) - theirs
            found = leftover_english(english[url], shown, data | host_title, allowed, gaps)
            if found:
                left[f"{language} {url}"] = found
    return left


# Filters the reports refuse: the page then shows what is wrong (400).
REFUSED_FILTERS = (
    "?period=custom&start=garbage&end=2026-11-05",
    "?period=custom&start=2026-11-10&end=2026-11-01",
    "?period=custom&start=1900-01-01&end=1900-01-02",
    "?period=custom&start=2026-01-01",
    "?period=nonsense",
    "?room=" + "x" * 600,
)


def test_every_page_reads_in_german_and_norwegian_without_english_left(site):
    pages = crawl(site, [reverse("insights_app:overview"), *admin_pages()])
    names = {resolve(urlsplit(p).path).view_name for p in pages}
    # Every report and the app's admin pages were reached (links lead from the overview to the rest).
    assert {
        "insights_app:overview",
        "insights_app:room",
        "insights_app:session",
        "insights_app:quality",
    } <= names
    assert {"insights_app:people", "insights_app:person", "insights_app:participant_quality"} <= names
    assert {"admin:index", "admin:app_list", "admin:insights_app_syncrun_dashboard"} <= names
    assert {"admin:insights_app_room_changelist", "admin:insights_app_room_change"} <= names
    english_html = {url: render(site, url, "en") for url in pages}
    # Plotly names months and weekdays in English only: every date axis writes digits instead.
    date_axes = [
        (url, name, axis)
        for url, page in english_html.items()
        for figure in figures(page)
        for name, axis in figure["layout"].items()
        if isinstance(axis, dict) and axis.get("type") == "date"
    ]
    assert date_axes
    assert not [
        (url, name, axis.get("tickformat"), axis.get("hoverformat"))
        for url, name, axis in date_axes
        if not axis.get("tickformat")
        or not axis.get("hoverformat")
        or NAMED_PARTS.search(axis["tickformat"] + axis["hoverformat"])
    ]
    # Each CSV download's header row, read as the page's texts (the links are relative to their page).
    downloads = {
        url.split("?")[0] + unescape(href)
        for url, page in english_html.items()
        if url.startswith("/insights/")
        for href in CSV_LINK.findall(page)
    }
    assert downloads, "no CSV download was offered"
    status_url = reverse("admin:insights_app_syncrun_dashboard_status")
    refused = [reverse("insights_app:quality") + query for query in REFUSED_FILTERS]
    with translation.override("en"):
        assert all(site.get(url).status_code == 400 for url in refused)
    left = english_left(site, [*pages, *downloads, status_url, *refused], downloads)
    assert not left, json.dumps(left, indent=1, ensure_ascii=False)


def test_the_empty_site_reads_in_german_and_norwegian(client, django_user_model):
    client.force_login(make_user(django_user_model, "boss", is_superuser=True))
    urls = [
        reverse("insights_app:overview"),
        reverse("insights_app:quality"),
        reverse("insights_app:people"),
        reverse("admin:index"),
        reverse("admin:insights_app_syncrun_dashboard"),
        reverse("admin:insights_app_syncrun_dashboard_status"),
    ]
    left = english_left(client, urls)
    assert not left, json.dumps(left, indent=1, ensure_ascii=False)
