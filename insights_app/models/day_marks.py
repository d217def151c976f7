"""A year's local days as 366 marks (``1``: the person came that day): ``bit(366)`` on PostgreSQL,
characters elsewhere, read and written as a string of ``0`` and ``1`` either way.

The SQL helpers give each statement the expression its database needs. A bit string is 46 bytes a row
where the characters took 366 and a period's test jumps to its bits (bench/RESULTS.md, issue 24 round 13).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models

from .placeholders import CastPlaceholder

DAYS_IN_ROW = 366


def _bits(connection: Any) -> bool:
    return connection.vendor == "postgresql"


class DayMarksField(CastPlaceholder, models.CharField):
    """366 marks, ``bit(366)`` where the database has bit strings."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["max_length"] = DAYS_IN_ROW
        super().__init__(*args, **kwargs)

    def db_type(self, connection: Any) -> str | None:
        """``bit(366)`` on PostgreSQL, ``varchar(366)`` elsewhere."""
        return f"bit({DAYS_IN_ROW})" if _bits(connection) else super().db_type(connection)

    def get_placeholder(self, value: Any, compiler: Any, connection: Any) -> str:
        """The ORM's inserts and updates pass the string as text: cast it where the column is bits."""
        return f"CAST(%s AS bit({DAYS_IN_ROW}))" if _bits(connection) else "%s"


def marks_of(positions: Iterable[int]) -> str:
    """A row of marks with a ``1`` at each of ``positions`` (1 = 1 January)."""
    marks = bytearray(b"0" * DAYS_IN_ROW)
    for position in positions:
        marks[position - 1] = ord("1")
    return marks.decode()


def marked_positions(marks: str) -> set[int]:
    """The positions of a row's ``1`` marks (1 = 1 January)."""
    return set(marked_in_order(marks))


def marked_in_order(marks: str, before: int = DAYS_IN_ROW + 1) -> list[int]:
    """The positions of the ``1`` marks before ``before``, in order (``str.find``: a row holds few)."""
    found: list[int] = []
    i = marks.find("1", 0, before - 1)
    while i != -1:
        found.append(i + 1)
        i = marks.find("1", i + 1, before - 1)
    return found


def new_row_sql(connection: Any) -> str:
    """A placeholder for a whole row of marks in raw SQL (``INSERT … SELECT``)."""
    return DayMarksField().get_placeholder(None, None, connection)


def set_mark_sql(column: str, mark: str, position: int, connection: Any) -> tuple[str, list[int]]:
    """``column`` with the mark at ``position`` (1 = 1 January) set to ``mark``, and its parameters."""
    if mark not in ("0", "1"):
        raise ValueError(f"a day mark is 0 or 1, not {mark!r}")
    if _bits(connection):
        return f"overlay({column} placing B'{mark}' from %s for 1)", [position]
    return f"substr({column}, 1, %s) || '{mark}' || substr({column}, %s)", [position - 1, position + 1]


def mark_is_not_sql(column: str, mark: str, position: int, connection: Any) -> tuple[str, list[int]]:
    """True where the mark at ``position`` is not ``mark``."""
    if mark not in ("0", "1"):
        raise ValueError(f"a day mark is 0 or 1, not {mark!r}")
    if _bits(connection):
        return f"substring({column} from %s for 1) <> B'{mark}'", [position]
    return f"substr({column}, %s, 1) <> '{mark}'", [position]


def any_mark_sql(column: str, first: int, length: int, connection: Any) -> tuple[str, list[int | str]]:
    """True where a ``1`` lies among the ``length`` marks from ``first``."""
    if _bits(connection):
        return f"substring({column} from %s for %s) <> CAST(%s AS varbit)", [first, length, "0" * length]
    return f"substr({column}, %s, %s) LIKE %s", [first, length, "%1%"]


def marks_before_sql(column: str, count: int, connection: Any) -> tuple[str, list[int]]:
    """How many ``1`` marks lie among the first ``count`` (an integer in SQL)."""
    if _bits(connection) and connection.pg_version >= 140000:
        return f"bit_count(substring({column} from 1 for %s))::int", [count]
    text = (
        f"CAST(substring({column} from 1 for %s) AS text)"
        if _bits(connection)
        else f"substr({column}, 1, %s)"
    )
    return f"length(replace({text}, '0', ''))", [count]
