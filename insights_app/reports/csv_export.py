"""Streamed CSV downloads of report tables, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.text import slugify

from .tables import Table

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Text that a spreadsheet would evaluate gets a leading quote; numbers pass unchanged."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat() if timezone.is_aware(value) else value.isoformat()
    if isinstance(value, bool | int):
        return int(value)
    if isinstance(value, float):
        return round(value, 3)
    text = str(value)
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


class _Echo:
    """A file-like object whose write returns the line, so csv.writer feeds a generator."""

    def write(self, value: str) -> str:
        return value


def csv_lines(table: Table) -> Iterator[str]:
    """Header and rows of ``table`` as CSV text lines."""
    writer = csv.writer(_Echo())
    yield writer.writerow([neutralise(str(c.label)) for c in table.columns])
    rows: Iterable[dict] = table.csv_rows()
    for row in rows:
        yield writer.writerow([neutralise(row.get(c.key)) for c in table.columns])


def csv_response(table: Table, stem: str) -> StreamingHttpResponse:
    """Stream ``table`` as ``<stem>-<table>.csv``."""
    filename = f"{slugify(stem) or 'report'}-{table.name}.csv"
    response = StreamingHttpResponse(csv_lines(table), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
