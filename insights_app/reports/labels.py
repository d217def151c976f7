"""Labels for external ids from the host site's own users, through the EXTERNAL_ID_RESOLVER hook."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.module_loading import import_string

from ..conf import get_settings, url_parts

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Label:
    """What to show for an external id; ``url`` is empty when there is no link."""

    text: str
    url: str = ""


def _safe_url(url: object) -> str:
    # Only web links: a resolver bug must not put a javascript: URL in front of staff.
    text = str(url or "")
    parts = url_parts(text)  # None for "http://[" and other text no browser could follow either
    return text if parts is not None and parts.scheme in ("", "http", "https") else ""


def resolve_labels(external_ids: Iterable[str]) -> dict[str, Label]:
    """One call to the host's resolver for all ids; the raw id wherever it has nothing or fails."""
    ids = list(dict.fromkeys(i for i in external_ids if i))
    labels = {i: Label(i) for i in ids}
    path = get_settings().EXTERNAL_ID_RESOLVER
    if not path or not ids:
        return labels
    try:
        resolved = import_string(path)(ids) or {}
        for key, value in resolved.items():
            if key not in labels or value is None:
                continue
            if isinstance(value, tuple | list):
                text, url = (value[0], value[1]) if len(value) > 1 else (value[0], "")
                labels[key] = Label(str(text or key), _safe_url(url))
            else:
                labels[key] = Label(str(value))
    except Exception as exc:  # a broken host hook must not take the reports down
        logger.warning("EXTERNAL_ID_RESOLVER %s failed: %s: %s", path, type(exc).__name__, exc)
        return {i: Label(i) for i in ids}
    return labels
