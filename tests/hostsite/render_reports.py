"""Visit the installed app's reports and admin pages as users of the host site would; print JSON.

Run inside the host site's virtualenv after a sync. Starts from every report URL that takes no
arguments, follows the links the pages show (so pages for one room, session or person are reached
the way a user reaches them), and records each page's status and what it shows. The pytest side
asserts on the JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections import Counter, deque
from html import unescape
from typing import Any
from urllib.parse import urldefrag, urlsplit

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hostsite.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Permission  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse  # noqa: E402
from django.urls.exceptions import NoReverseMatch, Resolver404  # noqa: E402
from django.utils.html import escape  # noqa: E402

import insights_app  # noqa: E402
from insights_app.models import Participant, ParticipantDetail, Room, RoomSession  # noqa: E402

MAX_PAGES = 120
PER_NAME = 3
HREF = re.compile(r"""(?:href|src)\s*=\s*["']([^"'#][^"']*)["']""", re.IGNORECASE)
SKIP_PARTS = ("/logout", "/delete/", "/add/", "/password/")


def app_url_names(patterns: list, prefix: str = "") -> list[str]:
    """Every named page URL of ``insights_app.urls``, with nested namespaces."""
    names: list[str] = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{prefix}{entry.namespace}:" if entry.namespace else prefix
            names += app_url_names(entry.url_patterns, inner)
        # POST-only actions (a form's target, e.g. "Fetch network samples") are not pages.
        elif isinstance(entry, URLPattern) and entry.name and not getattr(entry.callback, "post_only", False):
            names.append(prefix + entry.name)
    return names


def user_with(email: str, *codenames: str, superuser: bool = False) -> Any:
    """A staff user of the host's own user model with these insights_app permissions."""
    user_model = get_user_model()
    user = user_model.objects.create_user(email=email, password="pw-123-not-secret", is_staff=True)
    user.is_superuser = superuser
    user.save()
    for codename in codenames:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="insights_app", codename=codename)
        )
    return user


def visit_all(client: Client, start: list[str], inside: str) -> list[dict[str, Any]]:
    """Breadth-first over links under ``inside``; a few pages per URL name, GET only."""
    seen: set[str] = set()
    per_name: Counter[str] = Counter()
    queue = deque(start)
    pages: list[dict[str, Any]] = []
    while queue and len(pages) < MAX_PAGES:
        url = urldefrag(queue.popleft()).url
        if url in seen or any(part in url for part in SKIP_PARTS):
            continue
        seen.add(url)
        try:
            match = resolve(urlsplit(url).path)
        except Resolver404:
            continue
        name = match.view_name
        if per_name[name] >= PER_NAME:
            continue
        per_name[name] += 1
        response = client.get(url, follow=True)  # admin rows of the reports redirect to them
        content_type = response.get("Content-Type", "")
        body = b"".join(response.streaming_content) if response.streaming else response.content
        text = body.decode("utf-8", errors="replace")
        pages.append(
            {
                "url": url,
                "name": name,
                "status": response.status_code,
                "type": content_type,
                "bytes": len(body),
            }
        )
        pages[-1]["text"] = text
        if response.status_code == 200 and "html" in content_type:
            for href in HREF.findall(text):
                href = unescape(href)
                if href.startswith(inside) and href not in seen:
                    queue.append(href)
    return pages


SCRIPT_ONLY = {"insights_app:fetch_run_status"}


def main() -> None:
    """Render, check what can only be checked in-process, and print the JSON report."""
    report_names = [
        f"insights_app:{name}" for name in app_url_names(get_resolver("insights_app.urls").url_patterns)
    ]
    # A run's status feed is polled by the page's script for the run that page started, never linked.
    report_names = sorted(set(report_names) - SCRIPT_ONLY)
    start = []
    for name in report_names:
        with contextlib.suppress(NoReverseMatch):  # pages with arguments are reached through links
            start.append(reverse(name))
    reports_root = "/analytics/whereby/"

    viewer = Client()
    viewer.force_login(user_with("viewer@example.com", "view_reports"))
    report_pages = visit_all(viewer, start, reports_root)

    outsider = Client()
    outsider.force_login(user_with("outsider@example.com"))
    anonymous = Client()
    denied = {url: outsider.get(url).status_code for url in start}
    anonymous_status = {url: anonymous.get(url).status_code for url in start}

    admin = Client()
    admin.force_login(user_with("admin@example.com", superuser=True))
    admin_start = [reverse("admin:index"), reverse("admin:app_list", args=["insights_app"])]
    admin_pages = visit_all(admin, admin_start, reverse("admin:app_list", args=["insights_app"]))

    rooms = list(Room.objects.values_list("room_name", flat=True))
    external_ids = set(Participant.objects.exclude(external_id=None).values_list("external_id", flat=True))
    display_names = set(Participant.objects.exclude(display_name=None).values_list("display_name", flat=True))
    all_report_html = "".join(page["text"] for page in report_pages)
    result = {
        "insights_app_file": insights_app.__file__,
        "python": sys.executable,
        "counts": {
            "rooms": len(rooms),
            "sessions": RoomSession.objects.count(),
            "participants": Participant.objects.count(),
            "details": ParticipantDetail.objects.count(),
        },
        "report_url_names": report_names,
        "report_start": start,
        "reports": [{k: v for k, v in page.items() if k != "text"} for page in report_pages],
        "admin": [{k: v for k, v in page.items() if k != "text"} for page in admin_pages],
        "denied_without_permission": denied,
        "anonymous": anonymous_status,
        "rooms_shown_escaped": sum(1 for name in rooms if escape(name) in all_report_html),
        "raw_markup_names_leaked": [
            name for name in rooms if "<" in name and name in all_report_html and escape(name) != name
        ],
        "external_ids_shown_escaped": sum(1 for value in external_ids if escape(value) in all_report_html),
        "raw_markup_display_names_leaked": [
            name for name in display_names if "<" in name and name in all_report_html and escape(name) != name
        ],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
