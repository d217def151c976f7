"""Columns every synced model shares (the payload as received, when we saw it) and ``from_api``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from django.db import models
from django.utils.translation import gettext_lazy as _

# The attribute ``from_api`` sets on a field; ``sync.items`` reads it through ``_meta``.
API_FIELD = "whereby_api_field"

FieldT = TypeVar("FieldT", bound=models.Field)


@dataclass(frozen=True)
class ApiField:
    """A column copied from the API field of the same name in camelCase (``room_name`` ← ``roomName``).

    ``identity``: the item's key, required (an item without it is skipped).
    """

    identity: bool = False


def from_api(field: FieldT, *, identity: bool = False) -> FieldT:
    """Mark ``field`` as the copy of an API field: the sync maps, converts and cuts it by its type.

    Only an attribute on the field object: nothing in a migration or the database changes.
    """
    setattr(field, API_FIELD, ApiField(identity=identity))
    return field


class SyncedModel(models.Model):
    """An item copied from the Whereby API; typed columns live on the subclass."""

    raw = models.JSONField(_("raw payload"), default=dict, blank=True)
    first_seen_at = models.DateTimeField(_("first seen"), null=True, blank=True)
    synced_at = models.DateTimeField(_("last synced"), null=True, blank=True, db_index=True)

    class Meta:
        abstract = True
