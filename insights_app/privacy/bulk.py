"""One UPDATE per chunk of rows keyed by primary key, joined to a VALUES list: linear in the rows.

Django's ``bulk_update`` writes one ``CASE WHEN pk = … THEN …`` per column, which PostgreSQL
evaluates row by row against every branch: a 500-row chunk costs 500 × 500 comparisons.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import connections, models, router

from ..rollups.marks import ROLLUP_COLUMNS, TIME_COLUMN, mark_rows

MAX_ROWS = 1000


def _concrete_field(model: type[models.Model], name: str) -> models.Field:
    """The model's concrete column field of that name (relations and generic keys have no column)."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.column:
        raise ValueError(f"{model.__name__}.{name} is not a concrete column")
    return field


def update_by_pk(model: type[models.Model], rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> int:
    """Write ``columns`` of each row (a dict with ``pk`` and those field names); returns rows updated."""
    if not rows:
        return 0
    rollup_columns = ROLLUP_COLUMNS.get(model._meta.label, frozenset())
    moves_in_time = TIME_COLUMN.get(model) in columns
    if moves_in_time:
        mark_rows(model, [row["pk"] for row in rows])  # the days the rows leave
    connection = connections[router.db_for_write(model)]
    fields = [_concrete_field(model, name) for name in columns]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    pk_column = quote(_concrete_field(model, model._meta.pk.name).column)
    postgres = connection.vendor == "postgresql"
    max_params = connection.features.max_query_params or 32_000
    chunk = max(1, min(MAX_ROWS, max_params // (len(fields) + 1)))
    names = ", ".join(["k", *(f"c{i}" for i in range(len(fields)))])
    sets = ", ".join(
        # VALUES columns arrive as text on PostgreSQL: cast each to its column's type.
        f"{quote(f.column)} = " + (f"CAST(v.c{i} AS {f.db_type(connection)})" if postgres else f"v.c{i}")
        for i, f in enumerate(fields)
    )
    written = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            params: list[Any] = []
            for row in part:
                params.append(row["pk"])
                for f in fields:
                    value = row[f.name]
                    if isinstance(f, models.JSONField):
                        params.append(None if value is None else json.dumps(value, ensure_ascii=False))
                    else:
                        params.append(f.get_db_prep_save(value, connection))
            placeholder = "(" + ", ".join(["%s"] * (len(fields) + 1)) + ")"
            values = ", ".join([placeholder] * len(part))
            cursor.execute(
                f"WITH v({names}) AS (VALUES {values}) "  # noqa: S608 (names are ours, values are params)
                f"UPDATE {table} SET {sets} FROM v WHERE {table}.{pk_column} = v.k",
                params,
            )
            written += cursor.rowcount
    if rollup_columns.intersection(columns):
        mark_rows(model, [row["pk"] for row in rows])
    return written
