"""Streamed CSV downloads of report tables, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import datetime as dt
import math
import unicodedata
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from django.http import StreamingHttpResponse
from django.utils.cache import patch_cache_control
from django.utils.text import slugify
from django.utils.translation import get_language, override

from ..display.times import local
from .tables import Column, Table

# A spreadsheet runs a cell as a formula when it starts with one of these (OWASP "CSV injection"),
# also after leading spaces, line breaks or invisible characters, and in full-width form (＝ ＋ － ＠).
FORMULA_STARTS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
# Excel reads a CSV as UTF-8 only when it starts with a byte-order mark.
BOM = "\ufeff"
WHOLE_NUMBER_KINDS = ("int", "duration", "bitrate")


def _looks_like_formula(text: str) -> bool:
    if text.startswith(("\t", "\r", "\n")):
        return True
    i = 0
    while i < len(text) and (text[i].isspace() or unicodedata.category(text[i]) in ("Cc", "Cf")):
        i += 1
    return text[i : i + 1] in FORMULA_STARTS and i < len(text)


def neutralise(value: Any, kind: str = "text") -> Any:
    """Text that a spreadsheet would evaluate gets a leading quote; numbers pass unchanged."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return local(value).isoformat()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return ""
        if kind in WHOLE_NUMBER_KINDS or isinstance(value, int):
            return round(value)
        return round(value, 1 if kind == "minutes" else 3)
    text = str(value)
    if text and _looks_like_formula(text):
        return "'" + text
    return text


class _Echo:
    """A file-like object whose write returns the line, so csv.writer feeds a generator."""

    def write(self, value: str) -> str:
        return value


def _speaking(language: str | None) -> AbstractContextManager[object]:
    # A thread-local read per row where the language is already active (the common case).
    return nullcontext() if language is None or get_language() == language else override(language)


def csv_lines(table: Table, language: str | None = None) -> Iterator[str]:
    """Header and rows of ``table`` as CSV text lines, the first one starting with a BOM.

    Written in ``language`` (labels and any translated cell): a server iterates a streamed body after
    the view returned, when the request's language may no longer be active.
    """
    writer = csv.writer(_Echo())
    columns: list[Column] = table.columns
    with _speaking(language):
        line = BOM + writer.writerow([neutralise(str(c.csv_label)) for c in columns])
        rows: Iterator[dict] = iter(table.csv_rows())
    yield line
    while True:
        with _speaking(language):
            row = next(rows, None)
            if row is None:
                return
            line = writer.writerow([neutralise(row.get(c.key), c.kind) for c in columns])
        yield line


def csv_response(table: Table, stem: str) -> StreamingHttpResponse:
    """Stream ``table`` as ``<stem>-<table>.csv``; private, as it may hold personal data."""
    filename = f"{slugify(stem) or 'report'}-{table.name}.csv"
    response = StreamingHttpResponse(csv_lines(table, get_language()), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    patch_cache_control(response, private=True, no_store=True)
    return response
