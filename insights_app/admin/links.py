"""URLs between admin pages and to the reports, built so missing pages never break a page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.db.models import Model
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from ..display.names import middle_ellipsis

# A room name in a list column: start and end of a generated name (/prefix-…-9b21) in about 9 em.
ROOM_CHARS = 14


def admin_change_url(model: type[Model], pk: Any) -> str:
    """The admin change page of one object."""
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[pk])


def admin_changelist_url(model: type[Model], **params: Any) -> str:
    """The admin changelist of a model, filtered by the given query parameters."""
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def report_url(name: str, *args: Any) -> str | None:
    """The URL of a report page, or None while the reports are not mounted."""
    try:
        return reverse(f"insights_app:{name}", args=args)
    except NoReverseMatch:
        return None


def link(url: str | None, text: Any) -> str:
    """An escaped ``<a>`` (or the escaped text alone when there is no URL)."""
    if not url:
        return format_html("{}", text)
    return format_html('<a href="{}">{}</a>', url, text)


def clipped(text: Any, css: str = "insights-clip", *, middle: int = 0) -> str:
    """Text kept to one line by the stylesheet (ellipsis), whole in its tooltip. With ``middle``, a
    longer text is cut in its middle instead, keeping the end that tells generated names apart."""
    shown = middle_ellipsis(str(text), middle) if middle else text
    return format_html('<span class="{}" title="{}">{}</span>', css, text, shown)
