"""Writes mark the instants they touched; ``flush`` persists those days as stale in the same transaction.

Every write path of raw sessions and connections calls ``mark`` (the sync's upsert, the quality
summary, privacy rewrites and deletes, and ``pre_save``/``post_save`` for single rows). Inside a
transaction the marks wait until ``flush`` (the sync's page transaction and the privacy batches call
it before committing), which upserts the touched local days into ``RollupStaleDay`` with one
statement, so the rows and their marks commit together; a transaction that ends without a flush
persists them right after its commit, and outside a transaction a mark persists at once. The cells
themselves are recomputed later from the raw rows (``stale.fix``): at the end of a sync run, or by a
page about to read a period holding a few marked days; a page whose period holds more reads raw rows.

With ``WHEREBY_INSIGHTS["ROLLUPS"]`` off a write marks the rollups as needing a rebuild (one UPDATE
that touches no row once they do) and pages read raw rows.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from django.db import DatabaseError, connections, router, transaction
from django.db.models import Exists, Model

from ..conf import get_settings
from ..models import Participant, RollupStaleDay, RollupState, RollupStatus, RoomSession
from .cells import zone_named
from .people import flush_people
from .stale import fix, fix_quietly, note_raw, persist, waiting
from .state import current_state, usable_in

logger = logging.getLogger(__name__)

# The column that puts a row of each raw model in a day.
TIME_COLUMN: dict[type[Model], str] = {RoomSession: "started_at", Participant: "joined_at"}
# Columns whose change changes a cell (by model label, so callers need not import the models).
ROLLUP_COLUMNS: dict[str, frozenset[str]] = {
    "insights_app.Participant": frozenset(
        (
            "joined_at",
            "identity",
            "browser",
            "os",
            "role_name",
            "quality_degraded",
            "duration_seconds",
            "degraded_seconds",
            "room",
            "room_id",
        )
    ),
    "insights_app.RoomSession": frozenset(
        (
            "started_at",
            "ended_at",
            "duration_seconds",
            "total_participant_minutes",
            "total_recorder_minutes",
            "total_streamer_minutes",
            "total_unique_participants",
            "rating",
            "total_ratings",
            "room",
            "room_id",
        )
    ),
}
_PENDING = "_insights_rollup_pending"
_PENDING_OWNER = "_insights_rollup_pending_owner"  # the outermost atomic block the marks were made in
# A page fixes at most this many stale days of its period before reading cells; with more it reads raw rows.
PAGE_FIX_DAYS = 7


def _pending(alias: str) -> set[dt.datetime]:
    """The instants marked on this connection and not yet persisted.

    Marks made in a transaction that rolled back are dropped when another transaction marks or
    flushes: a commit persists its marks (``_after_commit``), so a set still held by an earlier
    outermost block belongs to rows that are gone (kept, they would make the next write's transaction
    mark days it never touched).
    """
    connection = connections[alias]
    pending = getattr(connection, _PENDING, None)
    blocks = getattr(connection, "atomic_blocks", None) or []
    owner = blocks[0] if connection.in_atomic_block and blocks else None
    made_in = getattr(connection, _PENDING_OWNER, None)
    if pending is None or (owner is not None and made_in is not None and made_in is not owner):
        pending = set()
        setattr(connection, _PENDING, pending)
    if owner is not None:
        setattr(connection, _PENDING_OWNER, owner)
    return pending


def _quarter(instant: dt.datetime) -> dt.datetime:
    """The instant cut to its UTC quarter hour: every zone's day boundary is on one, so no day is lost."""
    utc = instant.astimezone(dt.UTC)
    return utc.replace(minute=utc.minute - utc.minute % 15, second=0, microsecond=0)


def mark(model: type[Model], instants: Iterable[dt.datetime | None], alias: str | None = None) -> None:
    """Note that rows of ``model`` at these instants (before or after a write) changed."""
    if model not in TIME_COLUMN:
        return
    alias = alias or router.db_for_write(model)
    if not enabled():
        _retire(alias)
        return
    pending = _pending(alias)
    was_empty = not pending
    pending.update(_quarter(i) for i in instants if i is not None)
    if not pending:
        return
    if not connections[alias].in_atomic_block:
        flush(alias)
    elif was_empty:
        transaction.on_commit(lambda: _after_commit(alias), using=alias)


def enabled() -> bool:
    """Whether the site keeps the rollups up to date (``WHEREBY_INSIGHTS["ROLLUPS"]``)."""
    return bool(get_settings().ROLLUPS)


def fix_stale_days(alias: str = "default") -> int:
    """Recompute every stale day (the end of a sync run); logged, never raised. Returns the days fixed."""
    return fix_quietly(alias) if enabled() else 0


def _retire(alias: str) -> None:
    """Rollups are off and a write happened: whatever cells exist no longer match the raw rows."""
    RollupState.objects.using(alias).filter(status=RollupStatus.READY).update(
        status=RollupStatus.NEEDS_REBUILD
    )


def mark_rows(model: type[Model], pks: Iterable[Any], alias: str | None = None) -> None:
    """``mark`` the current instants of the rows with these primary keys (one query per 5,000)."""
    if model not in TIME_COLUMN:
        return
    alias = alias or router.db_for_write(model)
    if not enabled():
        _retire(alias)
        return
    keys = list(pks)
    column = TIME_COLUMN[model]
    for start in range(0, len(keys), 5000):
        chunk = keys[start : start + 5000]
        mark(
            model,
            model._default_manager.using(alias)
            .filter(pk__in=chunk)
            .values_list(column, flat=True)
            .distinct(),
            alias,
        )


def flush(alias: str = "default") -> None:
    """Persist the days marked on this connection as stale (inside its transaction, if any), and
    rewrite the people-year rows of the external ids noted by erasure and retention."""
    flush_people(alias)
    pending = _pending(alias)
    if not pending:
        return
    if not enabled():
        pending.clear()
        return
    with transaction.atomic(using=alias):
        # Marked whatever the state: a rebuild starting meanwhile empties the marks before this commits
        # or keeps this one, so a day it passed before this write's rows committed is fixed later.
        zone = zone_named(current_state(alias).zone)
        persist({instant.astimezone(zone).date() for instant in pending}, alias)
    pending.clear()


def _after_commit(alias: str) -> None:
    """A transaction committed marks without a flush: persist them now, in a transaction of its own."""
    try:
        flush(alias)
    except Exception:  # the write itself committed; `insights_rollup --check` finds what stays wrong
        logger.exception("could not mark the rollup days a commit touched as stale")


def on_saved(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    """``post_save``: mark the row's day (single-row writes: the admin, host code, tests)."""
    mark(sender, [getattr(instance, TIME_COLUMN[sender], None)], kwargs.get("using"))


def on_saving(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    """``pre_save``: mark the day the row is leaving, when a save moves a stored row in time."""
    if instance.pk is not None and not kwargs.get("raw"):
        mark_rows(sender, [instance.pk], kwargs.get("using"))


def connect_signals() -> None:
    """Mark single-row saves of sessions and connections (called from ``AppConfig.ready``).

    Not ``post_delete``: a receiver makes Django delete row by row; deleting code marks instead.
    """
    from django.db.models.signals import post_save, pre_save

    for model in TIME_COLUMN:
        pre_save.connect(on_saving, sender=model, dispatch_uid=f"insights_rollup_pre_{model.__name__}")
        post_save.connect(on_saved, sender=model, dispatch_uid=f"insights_rollup_{model.__name__}")


def rollups_usable(alias: str = "default", first: dt.date | None = None, last: dt.date | None = None) -> bool:
    """Whether pages may read the cells of the days ``first``..``last`` (every day without bounds) now,
    in the current time zone (one query while no day of them is stale).

    Marks this connection's own transaction left unflushed are persisted first. Stale days among
    them are recomputed here when at most ``PAGE_FIX_DAYS``; with more the answer is False (the page
    reads raw rows, and ``stale.raw_note`` says so).
    """
    if not enabled():
        return False
    flush(alias)
    marks = RollupStaleDay.objects.using(alias)
    if first is not None:
        marks = marks.filter(day__gte=first)
    if last is not None:
        marks = marks.filter(day__lte=last)
    # Whether any day is stale rides on the state's query: one query per rolled figure, as before.
    state = RollupState.objects.using(alias).annotate(stale=Exists(marks)).order_by("pk").first()
    if state is None or not usable_in(state):
        return False
    if not state.stale:
        return True
    count = waiting(first, last, alias)
    if count <= PAGE_FIX_DAYS:
        try:
            fix(first, last, alias)
        except DatabaseError:  # e.g. SQLite busy with a sync's write: this request reads raw rows
            logger.warning("could not recompute %d stale rollup days before a page read them", count)
        # A mark still there (a write committed during the fix) may lack rows the raw answer has.
        count = waiting(first, last, alias)
        if not count:
            return True
    note_raw(count)
    return False
