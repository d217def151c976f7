"""A sync run in words: its name, how long it took, how far it got, how long it still needs (lists, run
pages, the dashboard)."""

from __future__ import annotations

from django.utils.translation import gettext

from .. import models as m
from ..display.durations import format_duration
from ..display.numbers import count, format_int, points_text
from ..sync.estimate import Estimate, estimate_for, full_sync_estimate, work_done, work_percent


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


def run_progress(run: m.SyncRun, estimate: Estimate | None = None) -> tuple[str, int | None]:
    """The progress text of a run and its percent: of the estimated work while it has an estimate
    (``estimate``, else ``estimate_for(run)``), "3 / 12 rooms, about 40 % of the work"; else of its
    rooms; None when neither is known. The bar and the words say the same."""
    done = work_done(run, estimate if estimate is not None else estimate_for(run))
    if done is not None:
        percent = work_percent(done)
        rooms = f"{count(run.progress_done)} / {count(max(run.progress_total, run.progress_done))}"
        return gettext("%(rooms)s rooms, about %(percent)s %% of the work") % {
            "rooms": rooms,
            "percent": percent,
        }, percent
    total = run.progress_total
    text = progress_text(run) if run.progress_done or total else ""
    return text, (round(100 * run.progress_done / total) if total else None)


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


def estimate_text(run: m.SyncRun, estimate: Estimate | None = None) -> str:
    """'about 1,234 points left, about 25 min at 50 points/min (estimate)', or '' without one
    (``estimate``, else ``estimate_for(run)``)."""
    estimate = estimate if estimate is not None else estimate_for(run)
    if estimate is None:
        return ""
    return gettext("about %(points)s points left, about %(time)s at %(budget)s points/min (estimate)") % {
        "points": format_int(estimate.points),
        "time": format_duration(estimate.seconds),
        "budget": points_text(estimate.budget),
    }
