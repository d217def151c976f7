"""Compare stored cells with the raw rows' answer over a sample of days (and so of periods and rooms)."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
from dataclasses import dataclass
from typing import Any

from django.db.models import Max, Min, Model

from ..models import PeopleYearRollup, PersonDayRollup, PersonYearRollup, RollupStaleDay
from ..models.day_marks import marked_positions
from .cells import ROLLUP_MODELS, cell_columns, cell_querysets, zone_named
from .people import people_of_days, people_rows
from .rebuild import raw_day_range
from .state import behind_reason, current_state

REL_TOLERANCE = 1e-9  # sums of floats added in another order


@dataclass
class Difference:
    """One cell whose stored value is not the raw answer."""

    table: str
    key: tuple
    column: str
    stored: Any
    raw: Any

    def __str__(self) -> str:
        return f"{self.table} {self.key}: {self.column} is {self.stored!r}, the raw rows say {self.raw!r}"


def sample_days(first: dt.date, last: dt.date, count: int, rng: random.Random) -> list[dt.date]:
    """The most recent days (what pages read most) and random older ones, ``count`` in all."""
    span = (last - first).days + 1
    if span <= count:
        return [first + dt.timedelta(days=i) for i in range(span)]
    recent = [last - dt.timedelta(days=i) for i in range(count // 2)]
    older = rng.sample(range(span - len(recent)), count - len(recent))
    return sorted({*recent, *(first + dt.timedelta(days=i) for i in older)})


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        a, b = float(a or 0.0), float(b or 0.0)
        return math.isclose(a, b, rel_tol=REL_TOLERANCE, abs_tol=1e-9)
    if isinstance(a, dt.date) and not isinstance(a, dt.datetime) and isinstance(b, str):
        return a.isoformat() == b
    return a == b


def _as_date(value: Any) -> Any:
    """A day as a date (SQLite's raw query gives it as text)."""
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def compare_days(days: list[dt.date], zone: dt.tzinfo, people: bool = True) -> list[Difference]:
    """Every difference between the stored cells of ``days`` and the raw answer (and the people-year
    rows of their people unless ``people`` is False: a rebuild writes those last)."""
    out: list[Difference] = []
    for model, raw_qs in cell_querysets(days, zone).items():
        fields = cell_columns(model)
        names = [f.attname for f in fields]
        keys = [n for n in names if n in ("day", "hour", "room_id", "browser", "os", "role", "identity")]
        values = [n for n in names if n not in keys]
        # Only the day is converted: an identity or a browser can be ten characters too ("user-10000").
        raw = {
            tuple(_as_date(r[k]) if k == "day" else r[k] for k in keys): r
            for r in raw_qs.values(*keys, *values)
        }
        stored: dict[tuple, dict[str, Any]] = {}
        for row in model._default_manager.filter(day__in=days).values(*keys, *values):
            key = tuple(row[k] for k in keys)
            if key in stored:
                out.append(Difference(model.__name__, key, "cell", "twice", "once"))
            stored[key] = row
        out.extend(_differences(model, raw, stored, values))
    out.extend(_person_year_differences(days, zone))
    if people:
        out.extend(_people_year_differences(days, zone))
    return out


def _people_year_differences(days: list[dt.date], zone: dt.tzinfo) -> list[Difference]:
    """People-year rows (of anyone there on a checked day) that differ from what their raw rows give.

    A row holds the person's whole year: a year with a stale day anywhere is left out (its rows lag
    until the fix, as the cells of that day do). The external id is printed as a digest: the output
    goes to logs, and an id is the host site's own key for a person.
    """
    out = []
    stale_years = {day.year for day in RollupStaleDay.objects.values_list("day", flat=True)}
    checked = [day for day in days if day.year not in stale_years]
    for year, external_ids in people_of_days(checked, zone).items():
        for start in range(0, len(external_ids), 500):
            chunk = external_ids[start : start + 500]
            raw = {row.external_id: row for row in people_rows(chunk, year, zone)}
            stored = {
                r.external_id: r for r in PeopleYearRollup.objects.filter(year=year, external_id__in=chunk)
            }
            for external_id in sorted({*raw, *stored}):
                r, s = raw.get(external_id), stored.get(external_id)
                key = (year, "external id #" + hashlib.sha256(external_id.encode()).hexdigest()[:12])
                if r is None or s is None:
                    out.append(
                        Difference(
                            "PeopleYearRollup",
                            key,
                            "row",
                            "present" if s else "missing",
                            "present" if r else "none",
                        )
                    )
                    continue
                for column in ("days", "seconds", "ongoing", "open_joined"):
                    a, b = getattr(s, column), getattr(r, column)
                    if not _same_list(a, b):
                        out.append(Difference("PeopleYearRollup", key, column, a, b))
    return out


def _same_list(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_same, a, b))
    return a == b


def _person_year_differences(days: list[dt.date], zone: dt.tzinfo) -> list[Difference]:
    """People whose person-year row says otherwise than the raw rows about being there on a day."""
    out = []
    raw_people = cell_querysets(days, zone)[PersonDayRollup]
    by_day: dict[dt.date, set[str]] = {}
    for row in raw_people.values("day", "identity"):
        by_day.setdefault(_as_date(row["day"]), set()).add(row["identity"])
    # Each year's rows are read once, however many of its days are checked.
    marked: dict[int, dict[str, set[int]]] = {}
    for year in sorted({day.year for day in days}):
        rows = PersonYearRollup.objects.filter(year=year).values_list("identity", "days")
        marked[year] = {identity: marked_positions(marks) for identity, marks in rows}
    for day in days:
        position = day.timetuple().tm_yday
        stored = {identity for identity, positions in marked[day.year].items() if position in positions}
        raw = by_day.get(day, set())
        for identity in sorted(stored ^ raw):
            out.append(
                Difference(
                    "PersonYearRollup",
                    (day, identity),
                    "day",
                    "1" if identity in stored else "0",
                    "1" if identity in raw else "0",
                )
            )
    return out


def _differences(
    model: type[Model], raw: dict[tuple, dict], stored: dict[tuple, dict], values: list[str]
) -> list[Difference]:
    out = []
    for key in sorted({*raw, *stored}, key=repr):
        r, s = raw.get(key), stored.get(key)
        if r is None or s is None:
            out.append(
                Difference(
                    model.__name__, key, "cell", "present" if s else "missing", "present" if r else "none"
                )
            )
            continue
        for column in values:
            if not _same(
                s[column], r[column] if r[column] is not None else (0 if column != "last_started" else None)
            ):
                out.append(Difference(model.__name__, key, column, s[column], r[column]))
    return out


def stored_day_range() -> tuple[dt.date, dt.date] | None:
    """The first and last day holding a cell, or None."""
    firsts, lasts = [], []
    for model in ROLLUP_MODELS:
        span = model._default_manager.aggregate(first=Min("day"), last=Max("day"))
        if span["first"] is not None:
            firsts.append(span["first"])
            lasts.append(span["last"])
    return (min(firsts), max(lasts)) if firsts else None


def check(sample: int = 60, seed: int | None = None, all_days: bool = False) -> tuple[list[Difference], str]:
    """The differences over a sample of days (every day with ``all_days``; stale days left out, see
    ``stale.waiting``) and why pages read raw rows."""
    state = current_state()
    zone = zone_named(state.zone)
    # Days holding raw rows or cells: a cell left on a day its rows moved away from is a difference.
    ends = [d for pair in (raw_day_range(zone), stored_day_range()) if pair for d in pair]
    if not ends:
        return [], behind_reason(state)
    first, last = min(ends), max(ends)
    rng = random.Random(seed)
    days = sample_days(first, last, 10**9 if all_days else sample, rng)
    if state.status == "rebuilding" and state.rebuilt_through:
        days = [d for d in days if d <= state.rebuilt_through or d > (state.rebuild_last or last)]
    # A stale day's cells are known to lag its rows: no page reads them before they are recomputed.
    stale = set(RollupStaleDay.objects.filter(day__in=days).values_list("day", flat=True))
    days = [d for d in days if d not in stale]
    return compare_days(days, zone, people=state.status != "rebuilding"), behind_reason(state)
