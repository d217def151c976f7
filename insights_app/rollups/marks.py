"""Writes mark the instants they touched; ``flush`` recomputes those days' cells in the same transaction.

Every write path of raw sessions and connections calls ``mark`` (the sync's upsert, the quality
summary, privacy rewrites and deletes, and ``pre_save``/``post_save`` for single rows). Inside a
transaction the marks wait until ``flush`` (the sync's page transaction and the privacy batches call
it before committing), so the rows and their cells commit together; a transaction that ends without
a flush recomputes right after its commit, and outside a transaction a mark recomputes at once.
Recomputing a day from the raw rows, under its year's lock, never loses another worker's rows.

All of it only with ``WHEREBY_INSIGHTS["ROLLUPS"]`` on: recomputing whole days in every sync page costs a
full sync a large share of its time, so a site chooses it. With it off, a write marks the rollups as
needing a rebuild (one UPDATE that touches no row once they do) and pages read raw rows.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Model

from ..conf import get_settings
from ..models import Participant, RollupState, RollupStatus, RoomSession
from .cells import recompute_days, zone_named
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


def _pending(alias: str) -> set[dt.datetime]:
    connection = connections[alias]
    pending = getattr(connection, _PENDING, None)
    if pending is None:
        pending = set()
        setattr(connection, _PENDING, pending)
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
    """Recompute the cells of every day marked on this connection (inside its transaction, if any)."""
    pending = _pending(alias)
    if not pending:
        return
    if not enabled():
        pending.clear()
        return
    with transaction.atomic(using=alias):
        state = current_state(alias)
        zone = zone_named(state.zone)
        days = {instant.astimezone(zone).date() for instant in pending}
        recompute_days(days, zone, alias)
    pending.clear()


def _after_commit(alias: str) -> None:
    """A transaction committed marks without a flush: recompute now, in a transaction of its own."""
    try:
        flush(alias)
    except Exception:  # the write itself committed; `insights_rollup --check` finds what stays wrong
        logger.exception("could not bring the rollups up to date after a commit")


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


def rollups_usable(alias: str = "default") -> bool:
    """Whether pages may read the cells now, in the current time zone (one query).

    Marks this connection's own transaction left unflushed are recomputed first, so a page read in
    the transaction that wrote sees its writes.
    """
    if not enabled():
        return False
    flush(alias)
    state = RollupState.objects.using(alias).order_by("pk").first()
    return state is not None and usable_in(state)
