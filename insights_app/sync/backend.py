"""The seam between the sync engine and whatever runs its jobs (RQ in ``insights_app.jobs``).

The engine never imports a job queue: every entry point that can reap, fan out or start another
run takes a ``JobBackend``. ``service.InProcess`` is the backend of a process with no queue at all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

from ..models import SyncRun


@dataclass(frozen=True)
class RoomWork:
    """One room's share of a run: refresh its sessions (and their participants), then its details."""

    room_pk: int
    room_name: str
    signature: str
    refresh: bool
    force: bool
    is_new: bool = False  # the room was created by this run

    def as_payload(self) -> dict[str, Any]:
        """JSON-safe form for a job argument."""
        return asdict(self)


class JobBackend(Protocol):
    """What the engine asks of the machinery that runs its jobs."""

    def alive(self, run: SyncRun) -> bool:
        """Whether a job of this quiet run can still do something (False: the reaper may fail it)."""
        ...

    def dead(self, run: SyncRun) -> bool:
        """Whether the job runner shows this running run's jobs dead, however fresh its heartbeat."""
        ...

    def fan_out(self, run: SyncRun, batches: list[list[RoomWork]]) -> bool:
        """Hand the batches to other jobs and return True, or return False to work on them here."""
        ...

    def fan_out_steps(self, run: SyncRun, steps: list[tuple[Any, list[list[dict[str, Any]]]]]) -> bool:
        """Hand a full run's steps (newest history first) to jobs, each step after the one before;
        False to work on them here."""
        ...

    def is_timeout(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the job runner stopping a job that ran out of time (never swallowed)."""
        ...

    def refresh_organisation(self, trigger: str) -> tuple[SyncRun, bool]:
        """Bring the organisation up to date before an external-id run reads it (True: a run was done)."""
        ...
