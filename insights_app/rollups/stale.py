"""Persisted stale-day marks: writes record the days they touched, a fixer recomputes them later.

A write path upserts its touched days (``RollupStaleDay``) in the transaction of its rows, one
statement per flush; the cells are recomputed later, by ``fix``: at the end of a sync run, or by a
page about to read a period that holds a few of them. ``fix`` deletes a mark only if its ``version``
is still the one it read before recomputing, so a writer that bumped it meanwhile keeps its mark (on
PostgreSQL the mark's row lock orders the writer's bump and the fixer's delete).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from contextvars import ContextVar

from django.db import connections, transaction

from ..models import RollupStaleDay, RollupStatus
from .cells import recompute_days, zone_named
from .people import refresh_people
from .state import current_state

logger = logging.getLogger(__name__)

FIX_BATCH_DAYS = 7  # days recomputed per transaction
UPSERT_CHUNK = 500
# Per request (each thread or task has its own): the most stale days that sent a figure to raw rows.
_RAW_NOTE: ContextVar[int] = ContextVar("insights_rollup_raw_note", default=0)


def persist(days: Iterable[dt.date], alias: str = "default") -> None:
    """Mark ``days`` stale in the current transaction (one upsert per 500 days, in day order)."""
    ordered = sorted(set(days))
    if not ordered:
        return
    connection = connections[alias]
    quote = connection.ops.quote_name
    table = quote(RollupStaleDay._meta.db_table)
    day, version = quote("day"), quote("version")
    with connection.cursor() as cursor:
        # In day order, so two writers marking overlapping days never wait for each other in a cycle.
        for start in range(0, len(ordered), UPSERT_CHUNK):
            chunk = ordered[start : start + UPSERT_CHUNK]
            values = ", ".join(["(%s, 1)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} ({day}, {version}) VALUES {values} "  # noqa: S608 (our identifiers)
                f"ON CONFLICT ({day}) DO UPDATE SET {version} = {table}.{version} + 1",
                [connection.ops.adapt_datefield_value(d) for d in chunk],
            )


def waiting(first: dt.date | None = None, last: dt.date | None = None, alias: str = "default") -> int:
    """How many marked days lie between ``first`` and ``last`` (every one without bounds)."""
    qs = RollupStaleDay.objects.using(alias)
    if first is not None:
        qs = qs.filter(day__gte=first)
    if last is not None:
        qs = qs.filter(day__lte=last)
    return qs.count()


def fix(first: dt.date | None = None, last: dt.date | None = None, alias: str = "default") -> int:
    """Recompute the marked days between ``first`` and ``last`` (all without bounds) from the raw rows,
    ``FIX_BATCH_DAYS`` per transaction; returns how many marks it cleared."""
    cleared = 0
    after: dt.date | None = None
    while True:
        qs = RollupStaleDay.objects.using(alias).order_by("day")
        if first is not None:
            qs = qs.filter(day__gte=first)
        if after is not None:
            qs = qs.filter(day__gt=after)
        if last is not None:
            qs = qs.filter(day__lte=last)
        # Read before recomputing: a write committed after this read bumps the version and survives.
        read = list(qs.values_list("day", "version")[:FIX_BATCH_DAYS])
        if not read:
            break
        done = _fix_batch(read, alias)
        if done is None:
            break
        cleared += done
        after = read[-1][0]  # a mark a writer bumped meanwhile waits for the next fix
    return cleared


def _fix_batch(read: list[tuple[dt.date, int]], alias: str) -> int | None:
    """Recompute the days of ``read`` and delete each mark whose version is unchanged (None: the
    rollups need a rebuild, which empties cells and marks alike)."""
    with transaction.atomic(using=alias):
        state = current_state(alias)
        if state.status == RollupStatus.NEEDS_REBUILD:
            return None
        return recompute_clearing([day for day, _version in read], read, zone_named(state.zone), alias)


def recompute_clearing(
    days: list[dt.date],
    read: list[tuple[dt.date, int]],
    zone: dt.tzinfo,
    alias: str = "default",
    years: bool = True,
) -> int:
    """Recompute ``days`` and delete each mark of ``read`` (day, version, read before) whose version is
    unchanged; a mark a writer bumped meanwhile survives. Returns how many it deleted.

    Call inside the transaction that holds the recomputed cells (``fix`` and the rebuild both do);
    ``years`` as ``recompute_days``.
    """
    recompute_days(days, zone, alias, years)
    if years:
        refresh_people(days, zone, alias)  # the rebuild writes these rows once each at its end
    cleared = 0
    for day, version in sorted(read):  # day order, as writers mark: no cycle of row locks
        cleared += RollupStaleDay.objects.using(alias).filter(day=day, version=version).delete()[0]
    return cleared


def fix_quietly(alias: str = "default") -> int:
    """``fix`` every marked day; a failure is logged, never raised (the marks stay for the next try)."""
    try:
        return fix(alias=alias)
    except Exception:  # the writes committed; pages read raw rows for days still marked
        logger.exception("could not bring the stale rollup days up to date")
        return 0


def note_raw(days: int) -> None:
    """Record, for the current request, that a page read raw rows because ``days`` days were stale."""
    _RAW_NOTE.set(max(days, _RAW_NOTE.get()))


def raw_note() -> int:
    """How many stale days made a figure of the current request read raw rows (0: none did)."""
    return _RAW_NOTE.get()


def reset_note() -> None:
    """Forget the note at the start of a request (a thread may serve many)."""
    _RAW_NOTE.set(0)
