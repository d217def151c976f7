"""What every check module shares: the tag, the message ids, and the user's settings dict as given."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from ..conf import SETTING_NAME

CHECK_ID = "insights_app.{}"
# `manage.py check --tag insights_app` runs only these; a plain `check` runs them with all others.
TAG = "insights_app"


def check_id(code: str) -> str:
    """The full id of one of our messages ("E001" -> "insights_app.E001")."""
    return CHECK_ID.format(code)


def user_dict() -> Any:
    """``WHEREBY_INSIGHTS`` as the site wrote it (not merged over the defaults)."""
    return getattr(settings, SETTING_NAME, None)


def shape_ok() -> bool:
    """Whether the setting is a dict (or absent), so that its keys can be checked at all."""
    user = user_dict()
    return user is None or isinstance(user, dict)
