"""Rebuild every cell from the raw rows, a few days per transaction, resumable, while pages read raw rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from ..models import Participant, RollupStaleDay, RollupState, RollupStatus, RoomSession
from .cells import ALL_ROLLUP_MODELS, zone_named
from .people import rebuild_people
from .stale import recompute_clearing
from .state import current_state, zone_key
from .years import rebuild_years

BATCH_DAYS = 7


@dataclass
class RebuildProgress:
    """Where a rebuild is: days done of days in all, and the last day done."""

    done: int
    total: int
    through: dt.date | None


def raw_day_range(zone: dt.tzinfo) -> tuple[dt.date, dt.date] | None:
    """The first and last local day holding a session start or a connection's join, or None."""
    s = RoomSession.objects.aggregate(first=Min("started_at"), last=Max("started_at"))
    p = Participant.objects.aggregate(first=Min("joined_at"), last=Max("joined_at"))
    firsts = [v for v in (s["first"], p["first"]) if v is not None]
    lasts = [v for v in (s["last"], p["last"]) if v is not None]
    if not firsts:
        return None
    return min(firsts).astimezone(zone).date(), max(lasts).astimezone(zone).date()


def _start(state: RollupState, zone_name: str) -> None:
    """Begin afresh in ``zone_name``: no cell of another zone survives, pages read raw rows meanwhile."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # TRUNCATE gives the space back at once: deleted rows would stay in the files, read past by
            # every scan until a VACUUM FULL (SQLite's unqualified DELETE already empties its pages).
            with connection.cursor() as cursor:
                # Checks deferred by rows this transaction wrote (when a caller's holds it) run now:
                # TRUNCATE refuses a table with pending ones.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(f"TRUNCATE {_tables()}")
        else:
            for model in ALL_ROLLUP_MODELS:
                model._default_manager.all().delete()
        RollupStaleDay.objects.all().delete()  # days of the old cells, maybe of another zone
        state.zone = zone_name
        state.status = RollupStatus.REBUILDING
        state.rebuilt_through = None
        state.save()


def rebuild(
    *,
    restart: bool = False,
    batch_days: int = BATCH_DAYS,
    progress: Callable[[RebuildProgress], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> bool:
    """Rebuild in the site's TIME_ZONE; resumes a rebuild in progress. True when finished (pages read
    rollups again), False when ``should_stop`` ended it early (run again to resume)."""
    zone_name = zone_key(timezone.get_default_timezone())
    zone = zone_named(zone_name)
    state = current_state()
    if restart or state.status != RollupStatus.REBUILDING or state.zone != zone_name:
        _start(state, zone_name)
    while True:
        span = raw_day_range(zone)
        if span is None:
            break
        first, last = span
        day = max(first, state.rebuilt_through + dt.timedelta(days=1)) if state.rebuilt_through else first
        if day > last:
            break
        if should_stop():
            return False
        through = min(last, day + dt.timedelta(days=batch_days - 1))
        with transaction.atomic():
            days = [day + dt.timedelta(days=i) for i in range((through - day).days + 1)]
            # Read before recomputing: a mark bumped by a write meanwhile survives (as ``stale.fix``).
            marks = list(
                RollupStaleDay.objects.filter(day__in=days).order_by("day").values_list("day", "version")
            )
            # The person-year rows are written once each when every day is done (``rebuild_years``).
            recompute_clearing(days, marks, zone, years=False)
            state.rebuilt_through = through
            state.rebuild_first, state.rebuild_last = first, last
            state.save(update_fields=["rebuilt_through", "rebuild_first", "rebuild_last", "updated_at"])
        if progress is not None:
            progress(RebuildProgress((through - first).days + 1, (last - first).days + 1, through))
    if not rebuild_years(should_stop=should_stop):
        return False
    if not rebuild_people(zone, should_stop=should_stop):
        return False
    with transaction.atomic():
        # A day a write reached after the rebuild did keeps its mark: the next fix recomputes it.
        RollupState.objects.filter(pk=state.pk).update(status=RollupStatus.READY, updated_at=timezone.now())
    if connection.vendor == "postgresql":
        # The planner's figures for the refilled tables, now rather than when autovacuum gets to them:
        # until then it plans the first pages for the empty tables of the TRUNCATE.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {_tables()}")
    return True


def _tables() -> str:
    """The rollup tables, quoted and comma-separated."""
    return ", ".join(connection.ops.quote_name(m._meta.db_table) for m in ALL_ROLLUP_MODELS)
