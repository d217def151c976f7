"""System checks of the webhook settings (ids insights_app.W101 / E101, see docs/checks.md)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.urls import NoReverseMatch, reverse

from ..conf import SETTING_NAME, get_settings

TAG = "insights_app"


def _id(code: str) -> str:
    return f"insights_app.{code}"


def _user_dict() -> Any:
    return getattr(settings, SETTING_NAME, None)


@register(TAG)
def check_webhook_secret(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E101: WEBHOOK_SECRET must be a string."""
    if not isinstance(_user_dict() or {}, dict):
        return []  # E009 says what is wrong
    secret = get_settings().WEBHOOK_SECRET
    if secret is not None and not isinstance(secret, str):
        return [
            Error(
                f"{SETTING_NAME}['WEBHOOK_SECRET'] must be a string, not {type(secret).__name__}.",
                hint="Set it to the signing secret shown for your endpoint in Whereby's dashboard "
                "(e.g. from the WHEREBY_WEBHOOK_SECRET environment variable). The value is never shown.",
                id=_id("E101"),
            )
        ]
    return []


# A deployment check (``check --deploy``): the README's install routes the endpoint before a site has a
# secret, and a warning printed before every command's output would teach people to ignore warnings.
@register(TAG, deploy=True)
def check_webhook_secret_set(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W101: the endpoint is routed but has no secret (it answers 404)."""
    if not isinstance(_user_dict() or {}, dict):
        return []
    secret = get_settings().WEBHOOK_SECRET
    if not isinstance(secret, str | None) or (secret and secret.strip()):
        return []  # E101 speaks for a secret of the wrong type
    try:
        path = reverse("insights_app:whereby_webhook")
    except NoReverseMatch:
        return []
    return [
        Warning(
            f"The Whereby webhook URL {path} is routed but {SETTING_NAME}['WEBHOOK_SECRET'] is not set, "
            "so it answers 404 to every delivery.",
            hint="Set WEBHOOK_SECRET to the endpoint's signing secret from Whereby's dashboard, or silence "
            "insights_app.W101 if you do not use webhooks (see docs/webhooks.md).",
            id=_id("W101"),
        )
    ]
