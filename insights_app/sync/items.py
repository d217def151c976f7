"""Turn API items (any field may be missing, null or of the wrong type) into model column values."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import CharField, DateTimeField, Field, FloatField, JSONField, Model, TextField
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ..models import Participant, ParticipantDetail, Room, RoomSession
from ..models.base import API_FIELD


def api_name(column: str) -> str:
    """The API field a column copies: columns are the API's names in snake_case."""
    head, *rest = column.split("_")
    return head + "".join(part.title() for part in rest)


# (API field, column, kind); kinds: id (required string), str, text, datetime, number, json
ApiFields = tuple[tuple[str, str, str], ...]
# The kind of a column marked ``from_api``, by its field class (the most specific class first).
KINDS: tuple[tuple[type[Field], str], ...] = (
    (DateTimeField, "datetime"),
    (FloatField, "number"),
    (JSONField, "json"),
    (TextField, "text"),
    (CharField, "str"),
)


def _kind(field: Field) -> str:
    if getattr(field, API_FIELD).identity:
        return "id"
    for field_class, kind in KINDS:
        if isinstance(field, field_class):
            return kind
    raise TypeError(f"{field} is marked from_api but has no API kind")


def _api_columns(model: type[Model]) -> list[Field]:
    """The model's columns marked ``from_api``: its own in declaration order, then inherited ones."""
    inherited = {
        f.name
        for base in model.__mro__[1:]
        if isinstance(base, type) and issubclass(base, Model) and base is not Model and base._meta.abstract
        for f in base._meta.get_fields()
    }
    marked = [f for f in model._meta.concrete_fields if hasattr(f, API_FIELD)]
    return sorted(marked, key=lambda f: f.name in inherited)


def api_fields(model: type[Model]) -> ApiFields:
    """(API field, column, kind) of each column of ``model`` that copies an API field."""
    return tuple((api_name(f.attname), f.attname, _kind(f)) for f in _api_columns(model))


ROOM_FIELDS = api_fields(Room)
SESSION_FIELDS = api_fields(RoomSession)
PARTICIPANT_FIELDS = api_fields(Participant)
DETAIL_FIELDS = api_fields(ParticipantDetail)


def _max_lengths() -> dict[str, int]:
    """Column lengths of the CharFields the API fills, read from the models."""
    lengths: dict[str, int] = {}
    for model in (Room, RoomSession, Participant, ParticipantDetail):
        for field in _api_columns(model):
            if field.max_length is not None and not field.is_relation:
                lengths[field.name] = min(field.max_length, lengths.get(field.name, field.max_length))
    return lengths


# Longer values are cut (raw keeps the original).
MAX_LENGTHS = _max_lengths()


# Free text the API fills (TextFields): longer values are cut to this many characters for the
# column; ``raw`` keeps the value up to RAW_TEXT_LIMIT. See docs/reliability.md ("Limits").
TEXT_LIMITS = {"display_name": 512, "comment": 4096, "user_agent": 1024}
# Every string inside ``raw`` is kept up to this many characters, so one item stays small.
RAW_TEXT_LIMIT = 16_384
# Values outside these ranges are impossible and would break arithmetic later: stored as null.
SANE_RANGES = {"sample_rate_ms": (1.0, 3_600_000.0)}
# Totals and ratings beyond this are nonsense that would overflow a SUM in reports: stored as null.
NUMBER_LIMIT = 1e15
# Whereby's data cannot predate 2000 and rooms do not expire after 2100. Outside this, a date
# (often 0001-01-01 or 9999-12-31 as a stand-in for "none") is stored as null with a reason:
# it would overflow when shown in a time zone east or west of UTC.
EARLIEST_DATE = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_DATE = datetime(2100, 1, 1, tzinfo=UTC)


class BadItem(ValueError):
    """An item that cannot be stored; the message is the skip reason counted on the run."""


class BadValue(ValueError):
    """A field whose value cannot be kept: stored as null, the message counted as a reason."""


@dataclass(frozen=True)
class ParsedItem:
    """Column values of one item, its identity and a fingerprint of everything the API sent.

    ``notes`` name the values that were stored as null or cut short (counted on the run).
    """

    values: dict[str, Any]
    raw: dict[str, Any]
    signature: str
    notes: tuple[str, ...] = ()


class RawItem(dict):
    """An item as the API sent it, with the JSON text its fingerprint was taken from: the write
    stores that text instead of serialising the item a second time. Read-only, so the text cannot
    go stale; a copy (``dict(raw)``, ``copy.copy``) is a plain dict without it."""

    __slots__ = ("json",)

    def __init__(self, item: dict[str, Any], text: str) -> None:
        super().__init__(item)
        self.json = text

    def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("an API item's raw copy is read-only: copy it with dict() to change it")

    __setitem__ = __delitem__ = pop = popitem = clear = update = setdefault = __ior__ = _read_only

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))


def with_json(value: dict[str, Any]) -> RawItem:
    """A read-only copy of ``value`` carrying its JSON text, which the write stores as it is."""
    return RawItem(value, _canonical(value))


def signature(item: Any) -> str:
    """A stable fingerprint of an item: any change in any field (known or not) changes it."""
    return hashlib.sha256(_canonical(item).encode()).hexdigest()[:40]


# One encoder for every item: building one per call (json.dumps with options) cost a third of it.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)


def _canonical(item: Any) -> str:
    return _ENCODER.encode(item)


def parse_item(item: Any, fields: ApiFields) -> ParsedItem:
    """Column values for ``item``; raises BadItem for a missing identity or an unparsable date."""
    if not isinstance(item, dict):
        raise BadItem(f"item is a {type(item).__name__}, not an object")
    # One serialisation decides whether the item needs the walks below: JSON escapes a NUL as
    # \u0000, and an item whose whole text fits the limit holds no longer string.
    text = _canonical(item)
    if "\\u0000" in text:
        # PostgreSQL cannot store NUL in text or JSON; user-typed strings sometimes carry one.
        item = without_nul(item)
        text = _canonical(item)
    # The fingerprint sees everything that was sent, so a change beyond the caps is still a change.
    fingerprint = hashlib.sha256(text.encode()).hexdigest()[:40]
    item = bounded_raw(item) if len(text) > RAW_TEXT_LIMIT else RawItem(item, text)
    values: dict[str, Any] = {}
    notes: list[str] = []
    for api_name, column, kind in fields:
        try:
            values[column] = _convert(api_name, column, kind, item.get(api_name))
        except BadValue as exc:
            values[column] = None
            notes.append(str(exc))
            continue
        if column in SANE_RANGES and values[column] is not None:
            low, high = SANE_RANGES[column]
            if not low <= values[column] <= high:
                values[column] = None
        elif kind == "number" and values[column] is not None and abs(values[column]) > NUMBER_LIMIT:
            values[column] = None
            notes.append(f"{api_name} beyond ±{NUMBER_LIMIT:g} (stored as null)")
        elif kind in ("str", "text") and values[column] is not None:
            limit = TEXT_LIMITS.get(column) or MAX_LENGTHS.get(column)
            if limit and len(values[column]) > limit:
                values[column] = values[column][:limit]
                notes.append(f"{api_name} longer than {limit} characters (cut)")
    return ParsedItem(values=values, raw=item, signature=fingerprint, notes=tuple(notes))


def bounded_raw(value: Any) -> Any:
    """``value`` with every string (keys included) cut to RAW_TEXT_LIMIT characters."""
    if isinstance(value, str):
        return value[:RAW_TEXT_LIMIT] if len(value) > RAW_TEXT_LIMIT else value
    if isinstance(value, dict):
        return {bounded_raw(k): bounded_raw(v) for k, v in value.items()}
    if isinstance(value, list):
        # Sample arrays are thousands of numbers: leave them without a call each.
        return [v if type(v) in _PLAIN else bounded_raw(v) for v in value]
    return value


def without_nul(value: Any) -> Any:
    """``value`` with NUL characters removed from every string in it (keys included)."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        # Sample arrays are thousands of numbers: leave them without a call each.
        return [v if type(v) in _PLAIN else without_nul(v) for v in value]
    return value


_PLAIN = (int, float, bool, type(None))


def _convert(api_name: str, column: str, kind: str, value: Any) -> Any:
    if kind == "id":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise BadItem(f"missing {api_name}")
        if len(value) > MAX_LENGTHS.get(column, 255):
            raise BadItem(f"{api_name} longer than {MAX_LENGTHS.get(column, 255)} characters")
        return value
    if value is None:
        return None
    if kind == "datetime":
        if isinstance(value, str) and not value.strip():
            return None  # an empty string is "no time", not an unreadable one
        return _as_datetime(api_name, value)
    if kind == "number":
        return as_number(value)
    if kind in ("str", "text"):
        return _as_text(value)
    if kind == "json":
        return value if isinstance(value, (list, dict)) else None
    raise AssertionError(f"unknown field kind {kind}")


def _as_datetime(api_name: str, value: Any) -> datetime:
    parsed = None
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except (ValueError, OverflowError):
            parsed = None
    if parsed is None:
        raise BadItem(f"unparsable {api_name}")
    if timezone.is_naive(parsed):
        # The API speaks UTC; a time without an offset is read as UTC rather than as local time.
        parsed = parsed.replace(tzinfo=UTC)
    try:
        in_range = EARLIEST_DATE <= parsed < LATEST_DATE
    except OverflowError:  # an offset that pushes 0001-01-01 or 9999-12-31 off the calendar
        in_range = False
    if not in_range:
        raise BadValue(f"{api_name} outside {EARLIEST_DATE.year}–{LATEST_DATE.year - 1} (stored as null)")
    return parsed


def as_number(value: Any) -> float | None:
    """A finite float from an int, a float or a numeric string; None for anything else."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, (int, float)):
            number = float(value)
        elif isinstance(value, str):
            number = float(value.strip())
        else:
            return None
    except (ValueError, OverflowError):  # prose, or an integer too large for a float
        return None
    return number if math.isfinite(number) else None


def _as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    """Duration in seconds, or None while either end is unknown (ongoing)."""
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())
