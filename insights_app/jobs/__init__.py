"""The RQ adapter: enqueueing, fan-out, liveness, the worker-facing health, and the job entry points.

RQ stores a queued job's function as ``insights_app.jobs.<name>``: jobs queued before an upgrade must
still find theirs here, so every entry point is importable from this package (and enqueued by that path).
"""

from .entry_points import (
    finish_run_job,
    mark_step_job,
    reap_abandoned_runs_job,
    run_batch_job,
    run_step_job,
    run_sync_job,
    scheduled_sync,
)

__all__ = [
    "finish_run_job",
    "mark_step_job",
    "reap_abandoned_runs_job",
    "run_batch_job",
    "run_step_job",
    "run_sync_job",
    "scheduled_sync",
]
