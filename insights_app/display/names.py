"""Display names as people read them: a name Whereby stripped (privacy setting) becomes a clear placeholder."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

# What Whereby sends instead of a name when the organisation hides names (or null, or nothing).
REDACTED_MARKERS = ("[[redacted]]",)
HIDDEN_NAME = _("(name hidden)")
NO_NAME = _("(no name)")


def real_name(name: str | None) -> str:
    """The name as typed, or "" when Whereby gave none or stripped it."""
    if not name or name.strip() in REDACTED_MARKERS:
        return ""
    return name


def shown_name(name: str | None) -> str:
    """The name, or a placeholder saying it was hidden (stripped) or never given."""
    if real_name(name):
        return str(name)
    return str(HIDDEN_NAME if name and name.strip() in REDACTED_MARKERS else NO_NAME)


def middle_ellipsis(text: str, limit: int) -> str:
    """A long name cut in the middle, so its start and its end (where Whereby's generated room names
    differ) both stay readable; the whole name goes in a tooltip or hover beside it."""
    if len(text) <= limit:
        return text
    keep = limit - 1
    return text[: keep - keep // 2] + "…" + text[-(keep // 2) :]
