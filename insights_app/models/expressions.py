"""ORM expressions and cheap reads that the admin and the reports share (no rows loaded)."""

from __future__ import annotations

from django.db import connections
from django.db.models import Field, Model, OuterRef, Q, Subquery

from ..display.names import REDACTED_MARKERS
from .room import Room

# A connection still open: no duration yet (the sync gives one without leftAt in an ended session a
# duration up to the session's end, so only what is really ongoing runs to now).
OPEN = Q(duration_seconds__isnull=True, joined_at__isnull=False)


def real_names_only() -> Q:
    """Rows whose display name is a real one (for aggregates that pick a person's name)."""
    return ~Q(display_name__in=REDACTED_MARKERS)


def distinct_values(model: type[Model], column: str, limit: int = 50) -> list[str]:
    """Distinct non-empty values of an indexed column, read cheaply.

    On PostgreSQL a recursive "loose index scan" probes the index once per distinct value instead of
    reading every row; other databases (small sites on SQLite) use a plain DISTINCT.
    """
    field = model._meta.get_field(column)
    if not isinstance(field, Field):
        raise TypeError(f"{model.__name__}.{column} is not a column")
    db_column = field.column
    table = model._meta.db_table
    connection = connections["default"]
    if connection.vendor == "postgresql":
        qn = connection.ops.quote_name
        sql = (
            f"WITH RECURSIVE t(v) AS ("  # noqa: S608  (identifiers come from model metadata)
            f" (SELECT min({qn(db_column)}) FROM {qn(table)} WHERE {qn(db_column)} > '')"
            f" UNION ALL SELECT (SELECT min({qn(db_column)}) FROM {qn(table)} WHERE {qn(db_column)} > t.v)"
            f" FROM t WHERE t.v IS NOT NULL) SELECT v FROM t WHERE v IS NOT NULL LIMIT %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [limit])
            return [row[0] for row in cursor.fetchall()]
    values = model._default_manager.exclude(**{column: ""}).exclude(**{f"{column}__isnull": True})
    return list(values.order_by(column).values_list(column, flat=True).distinct()[:limit])


class GroupedLookup(Subquery):
    """A subquery that reads only grouped columns, computed once per group.

    Django would add a correlated subquery to the GROUP BY, so PostgreSQL would evaluate it for
    every row and hash its result too; the outer column it refers to is grouped already, so it has
    nothing to add.
    """

    def get_group_by_cols(self) -> list:
        """Nothing: the outer column it refers to is in the GROUP BY already."""
        return []


def room_name_of(room_field: str = "room_id") -> GroupedLookup:
    """The name of the room in ``room_field``, looked up once per group (group by that field).

    Grouping ~100k-250k rows by the room id alone and looking up ~5,000 names is faster than
    joining the rooms first and hashing every row with its name.
    """
    return GroupedLookup(Room.objects.filter(pk=OuterRef(room_field)).order_by().values("room_name")[:1])
