"""Set-based upsert: one read of what we hold, one insert-or-update statement for what changed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connections, models, router

from ..rollups.marks import TIME_COLUMN, mark
from . import sqlwrite


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
    this run just created); the insert still upserts. On PostgreSQL the statement reports which
    rows it inserted, so ``created_keys`` and the counts are exact even then; elsewhere a wrong
    assumption counts updated rows as created.
    """
    by_key: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        by_key[tuple(row[f] for f in key_fields)] = row
    result = UpsertResult()
    if not by_key:
        return result

    existing = {} if assume_new else _existing(model, key_fields, compare_fields, list(by_key))
    to_write: list[dict[str, Any]] = []
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
        to_write.append(row)

    if to_write:
        connection = connections[router.db_for_write(model)]
        if sqlwrite.usable(connection):
            pks, inserted = sqlwrite.upsert_returning_pks(
                connection, model, to_write, key_fields=key_fields, update_fields=compare_fields, now=now
            )
            result.pks.update(pks)
            # The statement says which rows it inserted: exact even when a row appeared since the
            # read (another process) or was assumed new and was not.
            wrongly_new = result.created_keys - inserted
            result.created -= len(wrongly_new)
            result.updated += len(wrongly_new)
            result.created_keys -= wrongly_new
            wrongly_held = inserted - result.created_keys
            result.created += len(wrongly_held)
            result.updated -= len(wrongly_held)
            result.created_keys |= wrongly_held
        else:
            result.pks.update(_bulk_create(model, to_write, key_fields, compare_fields, now, existing))
        _mark_rollups(model, to_write, existing)
    return result


def _mark_rollups(
    model: type[models.Model], written: list[dict[str, Any]], existing: dict[tuple, dict[str, Any]]
) -> None:
    """Mark the days the written rows were in (as read before) and are in now, for the rollups."""
    column = TIME_COLUMN.get(model)
    if column is None:
        return
    mark(model, [*(row.get(column) for row in written), *(row.get(column) for row in existing.values())])


def _bulk_create(
    model: type[models.Model],
    rows: list[dict[str, Any]],
    key_fields: tuple[str, ...],
    compare_fields: tuple[str, ...],
    now: datetime,
    existing: dict[tuple, dict[str, Any]],
) -> dict[tuple, int]:
    """The portable write: Django's ``bulk_create(update_conflicts=True)``; returns each key's pk."""
    objs = [model(**row, first_seen_at=now, synced_at=now) for row in rows]
    model._default_manager.bulk_create(
        objs,
        update_conflicts=True,
        unique_fields=[_field_name(model, f) for f in key_fields],
        update_fields=[_field_name(model, f) for f in (*compare_fields, "synced_at")],
    )
    pks: dict[tuple, Any] = {}
    for obj in objs:
        key = tuple(getattr(obj, f) for f in key_fields)
        pks[key] = obj.pk if obj.pk is not None else existing.get(key, {}).get("pk")
    missing = [key for key, pk in pks.items() if pk is None]
    if missing:
        # Backends that do not return ids from an upsert: read them back in one query.
        for key, row in _existing(model, key_fields, (), missing).items():
            pks[key] = row["pk"]
    return pks


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
