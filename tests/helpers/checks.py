"""Running the app's system checks in tests (the ``good`` fixture lives in conftest.py)."""

from __future__ import annotations

from django.core.checks import run_checks

from insights_app.checks.base import TAG

GOOD = {
    "API_KEY": "a-real-looking-key",
    "BASE_URL": "https://api.whereby.dev/v1",
    "QUEUE": "whereby_insights",
    "WEBHOOK_SECRET": "a-webhook-signing-secret",  # the webhook URL is routed in the test site (W101)
}


def ours(messages=None) -> dict[str, list]:
    """Our messages from a full run of the registered checks, grouped by id."""
    grouped: dict[str, list] = {}
    # Only our tag: Django 6 would otherwise run the model checks too, which open a database connection.
    for message in run_checks(tags=[TAG]) if messages is None else messages:
        if message.id and message.id.startswith("insights_app."):
            grouped.setdefault(message.id, []).append(message)
    return grouped


def only(code: str) -> object:
    """The single message with this id; fails if there is none or more than one."""
    found = ours().get(f"insights_app.{code}", [])
    assert len(found) == 1, f"expected one insights_app.{code}, got {ours()}"
    message = found[0]
    assert message.hint, f"{code} has no hint"
    return message
