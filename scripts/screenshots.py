#!/usr/bin/env python
"""Take the README's screenshots from a running demo (``make demo`` in another terminal).

Usage: .venv/bin/python scripts/screenshots.py [--site http://127.0.0.1:8000] [--password admin]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("INSIGHTS_CHROMIUM", "/usr/bin/chromium")
PAGES = {
    "overview": "/insights/?period=30d",
    "quality": "/insights/quality/?period=30d",
    "dashboard": "/admin/insights_app/syncrun/dashboard/",
}


def main() -> None:
    """Log in as the demo's admin and save one PNG per page under docs/screenshots/."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", default="http://127.0.0.1:8000")
    parser.add_argument("--password", default="admin")
    parser.add_argument(
        "--first-session", action="store_true", help="also capture the busiest session's page"
    )
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless"])
        page = browser.new_page(base_url=args.site, viewport={"width": 1400, "height": 1000})
        page.goto("/admin/login/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", args.password)
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/**")
        for name, path in PAGES.items():
            page.goto(path)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(OUT / f"{name}.png"), full_page=name == "overview")
            print(f"{OUT / f'{name}.png'}: {page.title()}")
        browser.close()


if __name__ == "__main__":
    main()
