"""Set-based upsert: one read of what we hold, one ``bulk_create(update_conflicts=True)`` for what changed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import models


@dataclass
class UpsertResult:
    """What one upsert did, and the primary key of every row it was given (by key)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    pks: dict[tuple, int] = field(default_factory=dict)
    created_keys: set[tuple] = field(default_factory=set)


def upsert_rows(
    model: type[models.Model],
    rows: Iterable[dict[str, Any]],
    *,
    key_fields: tuple[str, ...],
    compare_fields: tuple[str, ...],
    now: datetime,
    assume_new: bool = False,
) -> UpsertResult:
    """Insert new rows, update changed ones, leave equal ones alone; counts each.

    ``rows`` hold column values (foreign keys as ``<name>_id``); ``first_seen_at`` is set on insert
    only and ``synced_at`` whenever a row is written. Rows with the same key: the last one wins.
    ``assume_new`` skips reading what we hold, for rows that cannot exist yet (children of a row
    this run just created); the insert still upserts, so a wrong assumption costs only the counts.
    """
    by_key: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        by_key[tuple(row[f] for f in key_fields)] = row
    result = UpsertResult()
    if not by_key:
        return result

    existing = {} if assume_new else _existing(model, key_fields, compare_fields, list(by_key))
    to_write: list[models.Model] = []
    for key, row in by_key.items():
        current = existing.get(key)
        if current is None:
            result.created += 1
            result.created_keys.add(key)
        elif all(_same(current[f], row.get(f)) for f in compare_fields):
            result.unchanged += 1
            result.pks[key] = current["pk"]
            continue
        else:
            result.updated += 1
        to_write.append(model(**row, first_seen_at=now, synced_at=now))

    if to_write:
        model._default_manager.bulk_create(
            to_write,
            update_conflicts=True,
            unique_fields=[_field_name(model, f) for f in key_fields],
            update_fields=[_field_name(model, f) for f in (*compare_fields, "synced_at")],
        )
        for obj in to_write:
            key = tuple(getattr(obj, f) for f in key_fields)
            pk = obj.pk if obj.pk is not None else existing.get(key, {}).get("pk")
            result.pks[key] = pk  # type: ignore[assignment]  # None only until read back below
        missing = [key for key in result.pks if result.pks[key] is None]
        if missing:
            # Backends that do not return ids from an upsert: read them back in one query.
            for key, row in _existing(model, key_fields, (), missing).items():
                result.pks[key] = row["pk"]
    return result


def _field_name(model: type[models.Model], column: str) -> str:
    """The model field name for a row key (``room_id`` -> ``room``) as bulk_create wants it."""
    for f in model._meta.concrete_fields:
        if f.attname == column:
            return f.name
    return column


def _existing(
    model: type[models.Model], key_fields: tuple[str, ...], compare_fields: tuple[str, ...], keys: list[tuple]
) -> dict[tuple, dict[str, Any]]:
    lookup = {f"{f}__in": sorted({k[i] for k in keys}, key=str) for i, f in enumerate(key_fields)}
    wanted = set(keys)
    found: dict[tuple, dict[str, Any]] = {}
    for row in model._default_manager.filter(**lookup).values("pk", *key_fields, *compare_fields):
        key = tuple(row[f] for f in key_fields)
        if key in wanted:
            found[key] = row
    return found


def _same(stored: Any, incoming: Any) -> bool:
    if isinstance(stored, float) or isinstance(incoming, float):
        if stored is None or incoming is None:
            return stored is incoming
        return abs(float(stored) - float(incoming)) <= 1e-9 * max(1.0, abs(float(incoming)))
    return stored == incoming
