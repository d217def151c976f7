"""Erasure reaches live presence and stored webhook payloads too (registered with privacy.hooks)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..models import LiveConnection, WebhookEvent
from ..privacy.hooks import DELETE, register_eraser
from ..privacy.pseudonyms import maybe_pseudonym

# Where each erasure criterion appears: presence columns and keys of a delivery's ``data``.
# Webhook events carry no userId, so erasure by user id has nothing to do here.
_PRESENCE_COLUMNS = {"external_id": "external_id", "display_name": "display_name"}
_PAYLOAD_KEYS = {"external_id": "externalId", "display_name": "displayName"}


def _scrubbed_payload(raw: Any, key: str, mode: str) -> Any:
    """The payload with the person's field replaced by its pseudonym (or emptied in delete mode)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("data"), dict):
        return raw
    data = dict(raw["data"])
    data[key] = None if mode == DELETE else maybe_pseudonym(data.get(key))
    return {**raw, "data": data}


@register_eraser
def erase_presence_and_events(
    *, kind: str, values: list[str], mode: str, dry_run: bool, now: datetime
) -> dict[str, int]:
    """Forget the person in live presence (rows) and in stored deliveries (their payload field)."""
    column, key = _PRESENCE_COLUMNS.get(kind), _PAYLOAD_KEYS.get(kind)
    if column is None or key is None:
        return {}
    live = LiveConnection.objects.filter(**{f"{column}__in": values})
    events = WebhookEvent.objects.filter(**{f"raw__data__{key}__in": values})
    if dry_run:
        return {"live presence": live.count(), "webhook events": events.count()}
    live_count = live.count()
    if mode == DELETE:
        live.delete()
    else:
        for value in values:  # the value and its pseudonym: the pseudonym maps to itself
            LiveConnection.objects.filter(**{column: value}).update(**{column: maybe_pseudonym(value)})
    changed = []
    for event in events.only("pk", "raw"):
        event.raw = _scrubbed_payload(event.raw, key, mode)
        changed.append(event)
    WebhookEvent.objects.bulk_update(changed, ["raw"], batch_size=500)
    return {"live presence": live_count, "webhook events": len(changed)}
