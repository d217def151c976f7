"""The sync engine's job backend on RQ: fan-out of a run's rooms over jobs, and asking RQ what lives."""

from __future__ import annotations

from typing import Any

from rq.job import Dependency, Job
from rq.timeouts import BaseTimeoutException

from ..conf import get_settings
from ..models import SyncRun
from ..site import job_id, site_meta
from ..sync import service
from ..sync.backend import RoomWork
from ..sync.horizon_steps import Step
from ..whereby.budget.current import budget_points_per_minute
from .liveness import job_alive, rq_shows_dead
from .queue import entry_point, get_queue, job_retry


def _estimated_timeout(rooms: int) -> int:
    """A batch's job timeout: its worst-case calls at our share of the budget, doubled, plus slack."""
    conf = get_settings()
    seconds_per_call = 60.0 / max(1.0, budget_points_per_minute())
    return int(max(conf.JOB_TIMEOUT, rooms * 200 * seconds_per_call * 2 + 600))


def _enqueue(queue: Any, func: str, args: tuple, job_id: str, *, after: list[Job], rooms: int = 0) -> Job:
    """A fan-out's job after ``after`` (however they end): a batch of ``rooms``, or (0) a short one."""
    return queue.enqueue_call(
        func,
        args=args,
        job_id=job_id,
        timeout=_estimated_timeout(rooms) if rooms else 600,
        retry=job_retry() if rooms else None,
        result_ttl=86400,
        depends_on=Dependency(jobs=after, allow_failure=True) if after else None,
        meta=site_meta(),
    )


def fan_out(run: SyncRun, batches: list[list[RoomWork]]) -> bool:
    """One job per batch of rooms for all workers to share, and a job that closes the run after them."""
    queue = get_queue()
    base = run.job_id or job_id(f"sync-{run.pk}")
    ids = [f"{base}-batch-{index}" for index in range(len(batches))]
    # Every job of the run, the closing one included, so a run waiting for any of them stays alive.
    run.record_batch_jobs([*ids, f"{base}-finish"])
    children = [
        _enqueue(
            queue,
            entry_point("run_batch_job"),
            (run.pk, [w.as_payload() for w in batch]),
            i,
            after=[],
            rooms=len(batch),
        )
        for i, batch in zip(ids, batches, strict=True)
    ]
    _enqueue(queue, entry_point("finish_run_job"), (run.pk,), f"{base}-finish", after=children)
    return True


def fan_out_steps(run: SyncRun, steps: list[tuple[Step, list[list[dict[str, Any]]]]]) -> bool:
    """A full run newest history first: each step's batch jobs, then a job marking the step done,
    the next step's jobs waiting on that mark; the closing job waits on the last mark."""
    queue = get_queue()
    base = run.job_id or job_id(f"sync-{run.pk}")
    ids = [
        [f"{base}-step-{k}-batch-{i}" for i in range(len(batches))] for k, (_, batches) in enumerate(steps)
    ]
    marks = [f"{base}-step-{k}-mark" for k in range(len(steps))]
    run.record_batch_jobs([*(i for step_ids in ids for i in step_ids), *marks, f"{base}-finish"])
    after: list[Job] = []
    for (step, batches), step_ids, mark_id in zip(steps, ids, marks, strict=True):
        children = [
            _enqueue(
                queue,
                entry_point("run_step_job"),
                (run.pk, step.as_payload(), batch),
                i,
                after=after,
                rooms=len(batch),
            )
            for i, batch in zip(step_ids, batches, strict=True)
        ]
        after = [
            _enqueue(
                queue,
                entry_point("mark_step_job"),
                (run.pk, step.as_payload(), step_ids),
                mark_id,
                after=children or after,
            )
        ]
    _enqueue(queue, entry_point("finish_run_job"), (run.pk,), f"{base}-finish", after=after)
    return True


class RQBackend:
    """The sync engine's job backend on RQ (see ``sync.backend.JobBackend``).

    ``fan_out_jobs=False`` is for a run worked on in this process (``insights_sync`` without
    ``--enqueue``, the organisation refresh of an external-id run): it still asks RQ whether other
    runs' jobs are alive, but never hands its own work to other jobs.
    """

    def __init__(self, *, fan_out_jobs: bool) -> None:
        self.fan_out_jobs = fan_out_jobs

    def alive(self, run: SyncRun) -> bool:
        """Whether any RQ job of the run can still do something."""
        return job_alive(run)

    def dead(self, run: SyncRun) -> bool:
        """Whether RQ shows the running run's jobs dead (reaped at once, heartbeat or not)."""
        return rq_shows_dead(run)

    def fan_out(self, run: SyncRun, batches: list[list[RoomWork]]) -> bool:
        """One job per batch plus a closing job; False (work here) for an in-process run."""
        return fan_out(run, batches) if self.fan_out_jobs else False

    def fan_out_steps(self, run: SyncRun, steps: list[tuple[Step, list[list[dict[str, Any]]]]]) -> bool:
        """Each step's jobs after the step before; False (work here) for an in-process run."""
        return fan_out_steps(run, steps) if self.fan_out_jobs else False

    def is_timeout(self, exc: BaseException) -> bool:
        """RQ's death penalty for a job over its timeout."""
        return isinstance(exc, BaseTimeoutException)

    def refresh_organisation(self, trigger: str) -> tuple[SyncRun, bool]:
        """Run an incremental sync of the organisation in this job, unless one is already active.

        Inline, with its own client so each run counts only its own API calls; the external-id run
        waits for it because it needs the sessions it brings in.
        """
        run, created = service.create_or_get_active_run("incremental", trigger=trigger, backend=RQ_INLINE)
        if created:
            run = service.execute_run(run.pk, backend=RQ_INLINE)
        return run, created


RQ_JOBS = RQBackend(fan_out_jobs=True)
RQ_INLINE = RQBackend(fan_out_jobs=False)
