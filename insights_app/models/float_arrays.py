"""A list of floats: ``double precision[]`` on PostgreSQL (SQL reads an element), JSON text elsewhere."""

from __future__ import annotations

import json
from typing import Any

from django.db import models

from .placeholders import CastPlaceholder


def _arrays(connection: Any) -> bool:
    return connection.vendor == "postgresql"


class FloatArrayField(CastPlaceholder, models.Field):
    """A list of floats or None; SQL on PostgreSQL subscripts it (``column[k]``, 1-based)."""

    description = "a list of floats"

    def db_type(self, connection: Any) -> str:
        """``double precision[]`` on PostgreSQL, ``text`` elsewhere."""
        return "double precision[]" if _arrays(connection) else "text"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> list[float] | None:
        """The list, whichever way the database kept it."""
        if value is None or isinstance(value, list):
            return value
        return [float(v) for v in json.loads(value)]

    def to_python(self, value: Any) -> list[float] | None:
        """A list of floats from a list or its JSON."""
        if value is None or isinstance(value, list):
            return value
        return [float(v) for v in json.loads(value)]

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        """Floats for the array (psycopg types a list by its items), JSON elsewhere."""
        if value is None:
            return None
        floats = [float(v) for v in value]
        return floats if _arrays(connection) else json.dumps(floats)

    def get_placeholder(self, value: Any, compiler: Any, connection: Any) -> str:
        """An empty list has no item to type it by: cast."""
        return "CAST(%s AS double precision[])" if _arrays(connection) else "%s"
