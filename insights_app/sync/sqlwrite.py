"""The upsert's write on PostgreSQL: one ``INSERT … SELECT FROM unnest(arrays) ON CONFLICT DO UPDATE``.

Django's ``bulk_create`` builds a model instance per row, prepares every value through its field,
and (with psycopg's client-side binding, Django's default) quotes every value in Python: profiled,
that was most of a full sync's own CPU. Here each column travels as one array parameter, bound by
the server (psycopg's C dumpers), and the statement is the same for every batch of a model.
Values are converted as Django would store them; a value PostgreSQL refuses fails the whole
statement, as ``bulk_create`` did.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper

from .items import RawItem

# Column kinds whose values go into their array as they are (None included).
_AS_IS = frozenset(
    {"DateTimeField", "ForeignKey", "BigIntegerField", "IntegerField", "PositiveIntegerField", "BooleanField"}
)
_TEXT = frozenset({"CharField", "TextField"})


@dataclass(frozen=True)
class _Plan:
    """The statement for one model, key and set of updated columns, and how each column is converted."""

    sql: str
    fields: tuple[models.Field, ...]
    converters: tuple[Callable[[Any], Any] | None, ...]
    defaults: tuple[Any, ...]
    key_count: int


def _text(value: Any) -> Any:
    return value if value is None or type(value) is str else str(value)


def _float(value: Any) -> Any:
    # One array holds one type: an int among floats would make psycopg refuse the list.
    return value if value is None or type(value) is float else float(value)


def _converter(field: models.Field) -> Callable[[Any], Any] | None:
    kind = field.get_internal_type()
    if kind in _AS_IS:
        return None
    if kind in _TEXT:
        return _text
    if kind == "FloatField":
        return _float
    if kind == "JSONField":
        encoder = field.encoder  # type: ignore[attr-defined]

        def as_json(value: Any) -> Any:
            # SQL NULL for None, as Django stores it; the text is cast to jsonb by the statement.
            if value is None:
                return None
            if type(value) is RawItem:
                return value.json  # the item's text, already made when it was parsed
            return json.dumps(value, cls=encoder)

        return as_json
    raise TypeError(f"{field} ({kind}) has no conversion for the PostgreSQL upsert")


def _array_type(field: models.Field, connection: BaseDatabaseWrapper) -> str:
    db_type = str(field.db_type(connection))
    # varchar(n)[] would cut long values silently; text[] lets the column refuse them, as an insert does.
    return "text" if db_type.startswith("varchar") else db_type


@cache
def _plan(
    model: type[models.Model], key_fields: tuple[str, ...], update_fields: tuple[str, ...], alias: str
) -> _Plan:
    connection = connections[alias]
    quote = connection.ops.quote_name
    fields = tuple(f for f in model._meta.concrete_fields if not f.primary_key)
    by_attname = {f.attname: f for f in fields}
    columns = ", ".join(quote(f.column) for f in fields)
    arrays = ", ".join(f"%b::{_array_type(f, connection)}[]" for f in fields)  # binary: no escaping
    conflict = ", ".join(quote(by_attname[k].column) for k in key_fields)
    updates = ", ".join(
        f"{quote(by_attname[u].column)} = EXCLUDED.{quote(by_attname[u].column)}" for u in update_fields
    )
    returning = ", ".join(
        quote(c) for c in (model._meta.pk.column, *(by_attname[k].column for k in key_fields))
    )
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "  # noqa: S608 (names are the model's)
        f"SELECT * FROM unnest({arrays}) "
        # xmax is 0 only in a row version this statement inserted: which keys were new, exactly.
        f"ON CONFLICT ({conflict}) DO UPDATE SET {updates} RETURNING {returning}, (xmax = 0)"
    )
    return _Plan(
        sql=sql,
        fields=fields,
        converters=tuple(_converter(f) for f in fields),
        defaults=tuple(f.get_default() if f.has_default() else None for f in fields),
        key_count=len(key_fields),
    )


def usable(connection: BaseDatabaseWrapper) -> bool:
    """Whether ``connection`` is PostgreSQL through psycopg 3 (with psycopg2, Django's own upsert)."""
    if connection.vendor != "postgresql":
        return False
    # Only on PostgreSQL: the module imports the psycopg driver, which a SQLite site need not have.
    from django.db.backends.postgresql.psycopg_any import is_psycopg3  # type: ignore[import-untyped]

    return bool(is_psycopg3)


def upsert_returning_pks(
    connection: BaseDatabaseWrapper,
    model: type[models.Model],
    rows: Sequence[dict[str, Any]],
    *,
    key_fields: tuple[str, ...],
    update_fields: tuple[str, ...],
    now: datetime,
) -> tuple[dict[tuple, int], set[tuple]]:
    """Insert or update ``rows`` (distinct keys) in one statement; returns each key's primary key
    and the keys it inserted.

    ``first_seen_at`` is ``now`` on insert only, ``synced_at`` on every write; a column a row does
    not name gets the field's default.
    """
    plan = _plan(model, key_fields, (*update_fields, "synced_at"), connection.alias)
    given = {"first_seen_at": now, "synced_at": now}
    arrays: list[list[Any]] = []
    for field, convert, default in zip(plan.fields, plan.converters, plan.defaults, strict=True):
        name = field.attname
        if name in given:
            arrays.append([given[name]] * len(rows))
            continue
        values = [row.get(name, default) for row in rows]
        arrays.append(values if convert is None else [convert(v) for v in values])
    connection.ensure_connection()
    # Server-side binding (no quoting in Python); errors raised as Django's, like any query's.
    import psycopg  # only on PostgreSQL: a site on SQLite or MySQL need not install it

    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(plan.sql, arrays, prepare=False)
        pks: dict[tuple, int] = {}
        inserted: set[tuple] = set()
        for found in cursor.fetchall():
            key = tuple(found[1:-1])
            pks[key] = found[0]
            if found[-1]:
                inserted.add(key)
        return pks, inserted
