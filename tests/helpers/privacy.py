"""Helpers of the privacy tests: a pinned simulator sync, report snapshots, and whole-store greps."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zlib
from typing import Any

from django.apps import apps
from django.db import connection, models
from django.urls import reverse
from django.utils.html import escape

from insights_app.models import Participant, ParticipantDetail, Room, RoomSession
from insights_app.reports.csv_export import neutralise

# An instant unrelated to the real date: the simulator's `now` and the app's clock are both pinned here.
NOW = dt.datetime(2025, 3, 14, 12, 0, tzinfo=dt.UTC)
PERSONAL_PARTICIPANT = ("display_name", "user_id", "device_id", "external_id")


def period(start: dt.datetime, end: dt.datetime) -> dict[str, str]:
    """Report query parameters for a custom period (dates inclusive)."""
    return {"period": "custom", "start": f"{start:%Y-%m-%d}", "end": f"{end:%Y-%m-%d}"}


def personal_values() -> set[str]:
    """Every personal string the database holds now."""
    found: set[str] = set()
    for row in Participant.objects.values_list(*PERSONAL_PARTICIPANT):
        found |= {v for v in row if v}
    found |= {v for v in ParticipantDetail.objects.values_list("display_name", flat=True) if v}
    return found


def masker(values: set[str]) -> dict[str, str]:
    """Each personal value (as is, CSV-neutralised, HTML-escaped) -> a placeholder (longest first, for substrings)."""
    table: dict[str, str] = {}
    for value in values:
        table[value] = PERSON
        table[neutralise(value)] = PERSON
        table[escape(value)] = PERSON
        # Plotly labels escape only what Plotly's pseudo-HTML reads.
        table[value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")] = PERSON
    return table


PERSON = "<person>"
_PSEUDONYMS = re.compile(r"anon-[0-9a-f]{24}")


def _mask_text(text: str, table: dict[str, str]) -> str:
    text = _PSEUDONYMS.sub(PERSON, text)
    if text in table:
        return PERSON
    for value in sorted(table, key=len, reverse=True):
        if len(value) >= 4 and value in text:
            text = text.replace(value, PERSON)
    return text


def _translate(value: Any, table: dict[str, str]) -> Any:
    """``value`` with every personal text and pseudonym masked; links left out (they name people)."""
    if isinstance(value, str):
        return _mask_text(value, table)
    if isinstance(value, dict):
        return {k: _translate(v, table) for k, v in value.items() if not k.endswith("url")}
    if isinstance(value, (list, tuple)):
        return [_translate(v, table) for v in value]
    return value


def _plain(value: Any) -> Any:
    """JSON-comparable form: numbers rounded (float sums may differ in the last bit), order of rows kept."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)


def _rows_key(rows: list) -> list:
    # Rows tied on the sort column are ordered by a personal text: compare as a multiset.
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def snapshot(client: Any, url: str, params: dict[str, str], table: dict[str, str]) -> dict:
    """KPIs, chart traces, tables and each table's CSV of one report page, personal text masked."""
    response = client.get(url, params)
    assert response.status_code == 200, (url, response.status_code)
    context = response.context
    shot: dict[str, Any] = {"kpis": [], "charts": {}, "tables": {}, "csv": {}}
    for kpi in context.get("kpis") or []:
        shot["kpis"].append({k: v for k, v in kpi.items() if k in ("key", "value", "previous", "change")})
    for chart in context.get("charts") or []:
        traces = []
        for trace in chart.figure.get("data", []):
            traces.append({k: trace.get(k) for k in ("x", "y", "base", "text", "customdata") if k in trace})
        shot["charts"][chart.id] = traces
    for tab in context.get("tables") or []:
        shown = [{c.key: row.get(c.key) for c in tab.columns} for row in tab.rows]
        shot["tables"][tab.name] = _rows_key(_plain(_translate(shown, table)))
        body = b"".join(client.get(url, {**params, "csv": tab.name}).streaming_content).decode()
        shot["csv"][tab.name] = _rows_key([_translate(r, table) for r in csv.reader(io.StringIO(body))][1:])
        assert shot["csv"][tab.name] or not shot["tables"][tab.name], (url, tab.name)
    for key in ("totals", "ongoing", "people_count"):
        if key in context:
            shot[key] = context[key]
    shot["charts"] = _translate(shot["charts"], table)
    shot["kpis"] = _translate(shot["kpis"], table)
    return _plain(shot)


def period_pages() -> list[tuple[str, str]]:
    """(name, URL) of the report pages that sum over a period (person pages are separate)."""
    pages = [
        ("overview", reverse("insights_app:overview")),
        ("quality", reverse("insights_app:quality")),
        ("people", reverse("insights_app:people")),
    ]
    return pages + [
        (f"room {pk}", reverse("insights_app:room", args=[pk]))
        for pk in Room.objects.values_list("pk", flat=True)
    ]


def object_pages() -> list[tuple[str, str]]:
    """(name, URL) of the report page of every session and every connection."""
    pages = [
        (f"session {pk}", reverse("insights_app:session", args=[pk]))
        for pk in RoomSession.objects.values_list("pk", flat=True)
    ]
    pages += [
        (f"connection {pk}", reverse("insights_app:participant_quality", args=[pk]))
        for pk in Participant.objects.values_list("pk", flat=True)
    ]
    return pages


def text_columns() -> list[tuple[str, list[str]]]:
    """(table, [text and JSON columns]) of every table the project's models own, Django's included."""
    found = []
    for model in apps.get_models(include_auto_created=True):
        columns = [
            f.column
            for f in model._meta.concrete_fields
            if isinstance(f, (models.CharField, models.TextField, models.JSONField))
        ]
        if columns:
            found.append((model._meta.db_table, columns))
    return found


def database_hits(value: str) -> list[str]:
    """``table.column`` of every text or JSON cell (JSON as text) that contains ``value``."""
    hits = []
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for db_table, columns in text_columns():
            for column in columns:
                cast = f"CAST({quote(column)} AS TEXT)"
                cursor.execute(f"SELECT {cast} FROM {quote(db_table)} WHERE {quote(column)} IS NOT NULL")  # noqa: S608
                for (cell,) in cursor.fetchall():
                    # JSON may escape non-ASCII text: compare with the decoded form too.
                    if value in cell or json.dumps(value)[1:-1] in cell:
                        hits.append(f"{db_table}.{column}")
                        break
    return hits


def _unpacked(blob: bytes) -> bytes:
    """RQ keeps a job's function and arguments zlib-compressed (a pickle): search them decompressed."""
    try:
        return zlib.decompress(blob)
    except zlib.error:
        return b""


def redis_hits(conn: Any, value: str) -> list[str]:
    """Keys of the test Redis database whose name or value contains ``value``."""
    needle = value.encode()
    hits = []
    for key in conn.scan_iter(count=500):
        kind = conn.type(key).decode()
        if kind == "string":
            blobs = [conn.get(key) or b""]
        elif kind == "hash":
            blobs = [b for pair in conn.hgetall(key).items() for b in pair]
        elif kind == "list":
            blobs = conn.lrange(key, 0, -1)
        elif kind == "set":
            blobs = list(conn.smembers(key))
        elif kind == "zset":
            blobs = [m for m, _ in conn.zrange(key, 0, -1, withscores=True)]
        elif kind == "stream":
            blobs = [b for _, fields in conn.xrange(key) for pair in fields.items() for b in pair]
        else:
            blobs = []
        blobs = [*blobs, *(_unpacked(b) for b in blobs)]
        if needle in key or any(needle in b for b in blobs):
            hits.append(key.decode(errors="replace"))
    return hits
