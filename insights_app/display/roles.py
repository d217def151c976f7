"""Whereby's role names (``granted_viewer``) as people read them, translated; an unknown role as sent."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from .numbers import EMPTY

# The roles the API sends (shared/whereby/API_NOTES.md); a "granted" visitor or viewer was given access.
ROLE_LABELS = {
    "owner": _("owner"),
    "member": _("member"),
    "host": _("host"),
    "visitor": _("visitor"),
    "granted_visitor": _("visitor (granted access)"),
    "viewer": _("viewer"),
    "granted_viewer": _("viewer (granted access)"),
    "recorder": _("recorder"),
    "streamer": _("streamer"),
    "captioner": _("captioner"),
}


def role_label(role: str | None) -> str:
    """The role in words; a role this app does not know yet is shown as the API named it."""
    if not role:
        return EMPTY
    label = ROLE_LABELS.get(role)
    return str(label) if label is not None else role
