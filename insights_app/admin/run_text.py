"""A sync run in words: its name, how long it took, how far it got, how long it still needs (lists, run
pages, the dashboard)."""

from __future__ import annotations

from django.utils.translation import gettext

from .. import models as m
from ..display.durations import format_duration
from ..display.numbers import count, format_int, points_text
from ..sync.estimate import estimate_for, full_sync_estimate


def run_name(run: m.SyncRun) -> str:
    """ "incremental #12": the run without its status, which a page may show stale (the status has its own column)."""
    return f"{run.get_kind_display()} #{run.pk}"


def run_seconds(run: m.SyncRun) -> float | None:
    """How long a run took (or has taken so far, up to its last sign of life)."""
    if run.started_at is None:
        return None
    end = run.finished_at or run.heartbeat_at
    return (end - run.started_at).total_seconds() if end else None


def progress_text(run: m.SyncRun) -> str:
    """ "3 / 12 (25 %)" with thousands separators, or the count alone when the total is unknown."""
    if not run.progress_total:
        return count(run.progress_done) if run.progress_done else "—"
    percent = 100 * run.progress_done // run.progress_total
    return f"{count(run.progress_done)} / {count(run.progress_total)} ({percent} %)"


def full_sync_text() -> str:
    """'A full sync now: about 1,234 points, about 25 min at 50 points/min (estimate)', or ''."""
    estimate = full_sync_estimate()
    if estimate is None:
        return ""
    return gettext(
        "A full sync now: about %(points)s points, about %(time)s at %(budget)s points/min (estimate)"
    ) % {
        "points": format_int(estimate.points),
        "time": format_duration(estimate.seconds),
        "budget": points_text(estimate.budget),
    }


def estimate_text(run: m.SyncRun) -> str:
    """'about 1,234 points left, about 25 min at 50 points/min (estimate)', or '' without one."""
    estimate = estimate_for(run)
    if estimate is None:
        return ""
    return gettext("about %(points)s points left, about %(time)s at %(budget)s points/min (estimate)") % {
        "points": format_int(estimate.points),
        "time": format_duration(estimate.seconds),
        "budget": points_text(estimate.budget),
    }
