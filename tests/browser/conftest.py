"""Browser fixtures: Playwright driving Debian's Chromium against pytest-django's live server."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls in the tests are synchronous
# and safe here, so tell Django not to refuse them.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("INSIGHTS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "test-results"
PASSWORD = "browser-test-password-1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/browser is a browser test."""
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """One Chromium for the session; a missing browser fails loudly (make test installs it)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium chromium-driver)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class ConsoleErrors(list):
    """Console errors and uncaught page errors seen during a test."""


@pytest.fixture
def page(chromium, live_server) -> Iterator[object]:
    """A fresh browser page; ``page.console_errors`` collects console errors and page errors."""
    context = chromium.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 1000})
    new_page = context.new_page()
    errors = ConsoleErrors()

    def on_console(msg: object) -> None:
        # The browser's own favicon probe is not the page's error.
        if msg.type == "error" and not (msg.location or {}).get("url", "").endswith("/favicon.ico"):
            errors.append(f"{msg.text} at {(msg.location or {}).get('url')}")

    new_page.on("console", on_console)
    new_page.on("pageerror", lambda exc: errors.append(str(exc)))
    new_page.console_errors = errors
    yield new_page
    context.close()


@pytest.fixture
def make_staff_user(django_user_model) -> Callable[..., object]:
    """Create a staff user with the given permission codenames of insights_app (or a superuser)."""
    from django.contrib.auth.models import Permission

    def make(username: str = "staff", *, perms: tuple[str, ...] = (), superuser: bool = False) -> object:
        user = django_user_model.objects.create_user(
            username=username, password=PASSWORD, is_staff=True, is_superuser=superuser
        )
        if perms:
            user.user_permissions.set(
                Permission.objects.filter(content_type__app_label="insights_app", codename__in=perms)
            )
        return user

    return make


@pytest.fixture
def login(page, live_server) -> Callable[[object], object]:
    """Log a user in through the admin login form, as a person would."""

    def do_login(user: object) -> object:
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", user.get_username())
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")
        return page

    return do_login


@pytest.fixture
def screenshot(page) -> Callable[[str], Path]:
    """Save a full-page screenshot under test-results/ for a person to look at."""

    def shoot(name: str) -> Path:
        SCREENSHOT_DIR.mkdir(exist_ok=True)
        path = SCREENSHOT_DIR / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shoot
