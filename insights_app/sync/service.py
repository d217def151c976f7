"""The sync service: one function per operation, called alike by the job, the command and the admin.

Creating, cancelling and reaping runs live in ``runs``, what each kind of run does in ``kinds``;
this module runs them and closes them, and re-exports the whole service.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..errors import OUTAGE_ERRORS, InsightsError, safe_error
from ..models import SyncRun, SyncStatus
from ..rollups.marks import fix_stale_days
from ..whereby.client import WherebyClient
from .backend import JobBackend, RoomWork
from .batching import gathering
from .context import Cancelled, Heartbeat, RunContext, heartbeat_interval
from .horizon_steps import Step, fill_step, note_step_trouble
from .kinds import RESUME_WITHIN, dispatch, plan_room_work, work_on_room
from .pipeline import work_on_rooms
from .runs import (
    SyncError,
    create_or_get_active_run,
    dedup_key_for,
    reap_abandoned_runs,
    request_cancel,
    validate_scope,
)

__all__ = [
    "RESUME_WITHIN",
    "InProcess",
    "JobBackend",
    "RoomWork",
    "SyncError",
    "create_or_get_active_run",
    "dedup_key_for",
    "execute_batch",
    "execute_run",
    "execute_step",
    "finish_run",
    "plan_room_work",
    "reap_abandoned_runs",
    "request_cancel",
    "safe_error",
    "validate_scope",
    "work_on_room",
]

logger = logging.getLogger(__name__)
# The checkpoint key counting detail items whose loss unit was a guess (docs/architecture.md).
LOSS_HINT_KEY = "loss_read_as_fraction"


def execute_run(
    run_id: int,
    *,
    backend: JobBackend,
    client: WherebyClient | None = None,
    on_progress: Callable[[SyncRun], None] | None = None,
    retrying: bool = False,
) -> SyncRun:
    """Do the work of a run (or hand it to batch jobs through ``backend.fan_out``); returns the run.

    With ``retrying`` a retryable failure (``InsightsError.retryable``) puts the run back to queued and re-raises, so the
    job's RQ retry can resume it; otherwise the run is marked failed and the error re-raised.
    """
    run = SyncRun.objects.get(pk=run_id)
    if not run.is_active:
        return run
    if run.cancel_requested:
        return _close(run, SyncStatus.CANCELLED)
    # Conditional, so a run that was reaped or cancelled meanwhile is not brought back to life.
    if not run.mark_running():
        return run
    own_client = client is None
    ctx = None
    try:
        client = client or WherebyClient.from_settings()
        ctx = RunContext(run, client, backend=backend, on_progress=on_progress)
        with Heartbeat(run.pk, heartbeat_interval()):
            handed_off = dispatch(ctx)
        ctx.flush(force=True)
        if handed_off:
            return SyncRun.objects.get(pk=run.pk)
        return finish_run(run.pk, ambiguous_loss_items=ctx.ambiguous_loss_items)
    except Cancelled:
        if ctx is not None:
            _flush_quietly(ctx)  # the calls made until the cancel count
        return _close(run, SyncStatus.CANCELLED)
    except Exception as exc:
        if ctx is not None:
            _flush_quietly(ctx)
        if retrying and isinstance(exc, InsightsError) and exc.retryable:
            run.requeue_for_retry(safe_error(exc))
        else:
            _close(run, SyncStatus.FAILED, error=safe_error(exc))
        raise
    finally:
        if own_client and client is not None:
            client.close()


def execute_batch(
    run_id: int,
    payload: list[dict[str, Any]],
    *,
    backend: JobBackend,
    client: WherebyClient | None = None,
    retrying: bool = False,
    step: dict[str, Any] | None = None,
) -> None:
    """A fan-out job's share: the listed rooms (of one ``step`` of a newest-first full run). Failures are recorded on the run, never lost.

    An outage is raised while RQ can still retry the batch (``retrying``); after the last attempt
    it is recorded, so the closing job marks the run partial.
    """
    run = SyncRun.objects.get(pk=run_id)
    if run.status != SyncStatus.RUNNING:
        return
    own_client = client is None
    client = client or WherebyClient.from_settings()
    ctx = RunContext(run, client, backend=backend)
    try:
        with Heartbeat(run.pk, heartbeat_interval()):
            if step is None:
                with gathering(ctx) as buffer:
                    work_on_rooms(ctx, [RoomWork(**item) for item in payload], buffer)
            else:
                fill_step(ctx, payload, Step.from_payload(step))
    except Cancelled:
        return
    except OUTAGE_ERRORS as exc:
        if retrying:
            raise
        _batch_stopped(ctx, len(payload), safe_error(exc), step)
    except Exception as exc:
        if backend.is_timeout(exc):
            _batch_stopped(ctx, len(payload), "the job ran out of time (JOB_TIMEOUT)", step)
            raise
        _batch_stopped(ctx, len(payload), safe_error(exc), step)
    finally:
        _flush_quietly(ctx)
        if own_client:
            client.close()


def execute_step(
    run_id: int,
    step: dict[str, Any],
    payload: list[dict[str, Any]],
    *,
    backend: JobBackend,
    client: WherebyClient | None = None,
    retrying: bool = False,
) -> None:
    """A fanned-out full run's job: the listed rooms' share of one step, newest history first."""
    execute_batch(run_id, payload, backend=backend, client=client, retrying=retrying, step=step)


def _batch_stopped(ctx: RunContext, rooms: int, why: str, step: dict[str, Any] | None) -> None:
    ctx.problem(f"batch of {rooms} rooms stopped: {why}")
    if step is not None:
        note_step_trouble(ctx.run.pk)  # its rows are not all stored: no step is marked complete


def finish_run(run_id: int, *, ambiguous_loss_items: int = 0) -> SyncRun:
    """Bring the rollups' stale days up to date, then close the run: cancelled if asked, partial when
    anything was skipped, else succeeded."""
    run = SyncRun.objects.get(pk=run_id)
    if not run.is_active:
        return run
    # The days the run's pages marked stale, recomputed once each (not in every page that touched them).
    with Heartbeat(run.pk, heartbeat_interval()):
        fix_stale_days()
    if ambiguous_loss_items:
        # How the organisation writes loss is a fact about the site, not the run: the hint is given
        # once per site (the first run that met such items); every run keeps its count in its checkpoint.
        told = SyncRun.objects.filter(checkpoint__has_key=LOSS_HINT_KEY).exclude(pk=run.pk).exists()
        (logger.debug if told else logger.info)(
            "sync run %s read %d detail items whose packet loss was all within 0-1 as fractions "
            "(set WHEREBY_INSIGHTS['PACKET_LOSS_UNIT'] to 'percent' if your organisation reports percent; "
            "said once, later runs count them in their checkpoint)",
            run.pk,
            ambiguous_loss_items,
        )
        run.merge_checkpoint(**{LOSS_HINT_KEY: ambiguous_loss_items})
    if run.cancel_requested:
        return _close(run, SyncStatus.CANCELLED)
    return _close(run, SyncStatus.PARTIAL if run.skip_reasons else SyncStatus.SUCCEEDED)


def _close(run: SyncRun, status: str, *, error: str = "") -> SyncRun:
    run.close(status, error=error)
    return run


def _flush_quietly(ctx: RunContext) -> None:
    try:
        ctx.flush(force=True)
    except Cancelled:
        pass
    except Exception:
        logger.exception("could not record the counters of sync run %s", ctx.run.pk)


class InProcess:
    """A process without a job queue: no fan-out, no job timeouts, and queued runs left alone.

    It cannot see whether a queued run's job still exists, so it never calls one abandoned; a
    running run whose heartbeat went stale is dead whoever runs it.
    """

    def alive(self, run: SyncRun) -> bool:
        """Queued runs may have a job somewhere; running ones are judged by their heartbeat alone."""
        return run.status == SyncStatus.QUEUED

    def dead(self, run: SyncRun) -> bool:
        """Without a job queue nothing shows a run dead before its heartbeat goes stale."""
        return False

    def fan_out(self, run: SyncRun, batches: list[list[RoomWork]]) -> bool:
        """Work on every batch in this process."""
        return False

    def fan_out_steps(self, run: SyncRun, steps: list[tuple[Any, list[list[dict[str, Any]]]]]) -> bool:
        """Work on every step in this process."""
        return False

    def is_timeout(self, exc: BaseException) -> bool:
        """Nothing stops an in-process run from outside."""
        return False

    def refresh_organisation(self, trigger: str) -> tuple[SyncRun, bool]:
        """Run an incremental organisation sync here, unless one is already active."""
        run, created = create_or_get_active_run("incremental", trigger=trigger, backend=self)
        if created:
            run = execute_run(run.pk, backend=self)
        return run, created
