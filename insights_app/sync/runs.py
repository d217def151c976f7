"""Creating runs (one active per scope), cancelling them, and reaping those whose worker died."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Now

from ..conf import DETAIL_POLICIES, get_settings
from ..errors import WherebyError
from ..models import SyncKind, SyncRun, SyncStatus
from .backend import JobBackend
from .clock import db_now

logger = logging.getLogger(__name__)


class SyncError(WherebyError):
    """The sync cannot do what was asked (an unknown room or session, a bad scope)."""

    retryable = False


def dedup_key_for(kind: str, scope: dict[str, Any]) -> str:
    """Runs with the same key cover the same data: only one of them may be queued or running."""
    if kind in (SyncKind.FULL, SyncKind.INCREMENTAL):
        return "org"
    digest = hashlib.sha256(repr(sorted(scope.items())).encode()).hexdigest()[:32]
    return f"{kind}:{digest}"


def validate_scope(kind: str, scope: dict[str, Any], details: str | None) -> None:
    """Refuse a scope that cannot run, with a message naming the problem."""
    if kind not in SyncKind.values:
        raise SyncError(f"unknown sync kind {kind!r}; expected one of {', '.join(SyncKind.values)}")
    if details is not None and details not in DETAIL_POLICIES:
        raise SyncError(f"unknown detail policy {details!r}; expected one of {', '.join(DETAIL_POLICIES)}")
    needs: dict[str, str] = {
        SyncKind.ROOM: "room_names",
        SyncKind.SESSION: "room_session_ids",
        SyncKind.EXTERNAL_ID: "external_id",
        SyncKind.DETAILS: "participant_ids",
    }
    if kind in needs and not scope.get(needs[kind]):
        raise SyncError(f"a {kind} sync needs {needs[kind]}")


def create_or_get_active_run(
    kind: str,
    *,
    trigger: str,
    user: Any = None,
    scope: dict[str, Any] | None = None,
    details: str | None = None,
    backend: JobBackend,
) -> tuple[SyncRun, bool]:
    """A new queued run, or (False) the run already queued or running for the same scope.

    Abandoned runs are reaped first, asking ``backend`` whether their jobs are alive.
    """
    scope = {k: v for k, v in (scope or {}).items() if v not in (None, [], "")}
    validate_scope(kind, scope, details)
    key = dedup_key_for(kind, scope)
    reap_abandoned_runs(backend=backend)
    for _attempt in range(3):
        try:
            with transaction.atomic():
                run = SyncRun.objects.create(
                    kind=kind,
                    scope=scope,
                    dedup_key=key,
                    details_policy=details or get_settings().DETAIL_POLICY,
                    trigger=trigger,
                    requested_by=user if getattr(user, "pk", None) else None,
                )
                # auto_now_add wrote this host's time; the grace before a queued run's job is looked
                # for is judged by other hosts, so the database's clock counts (sync/clock.py).
                SyncRun.objects.filter(pk=run.pk).update(queued_at=Now())
                run.refresh_from_db(fields=["queued_at"])
            return run, True
        except IntegrityError:
            existing = SyncRun.objects.active().filter(dedup_key=key).first()
            if existing is not None:
                return existing, False
    raise SyncError("could not create a sync run: another process keeps racing for the same scope")


def request_cancel(run: SyncRun, by: str = "") -> SyncRun:
    """Queued runs stop now; running ones at their next page boundary. ``by``: who asked, from where."""
    run.request_cancel(by)
    return run


def reap_abandoned_runs(*, backend: JobBackend) -> int:
    """Mark failed the runs whose worker went silent (killed) or whose queued job is gone."""
    now = db_now()
    stale = now - timedelta(seconds=get_settings().ABANDONED_AFTER_SECONDS)
    reaped = _reap_dead_jobs(backend, now)
    # A queued run is asked about at once: ``backend.alive`` allows for the moment between the commit
    # and the enqueue itself, and a job deleted from the queue must not block its scope until the threshold.
    candidates = SyncRun.objects.filter(
        Q(status=SyncStatus.RUNNING, heartbeat_at__lt=stale)
        | Q(status=SyncStatus.RUNNING, heartbeat_at__isnull=True, started_at__lt=stale)
        | Q(status=SyncStatus.QUEUED)
    )
    for run in candidates:
        if backend.alive(run):
            continue
        reason = (
            "abandoned: its worker stopped without finishing (killed or lost); the next run picks up from here"
            if run.status == SyncStatus.RUNNING
            else "abandoned: its queued job is gone from the queue"
        )
        reaped += run.fail_abandoned(reason, now=now)
    if reaped:
        logger.warning("marked %d abandoned sync runs as failed", reaped)
    return reaped


def _reap_dead_jobs(backend: JobBackend, now: datetime) -> int:
    """Fail the running runs whose jobs the job runner shows dead, without waiting for their heartbeat."""
    reaped = 0
    for run in SyncRun.objects.filter(status=SyncStatus.RUNNING).exclude(job_id=""):
        if backend.dead(run):
            reason = "abandoned: its job died (worker stopped or killed); the next run picks up from here"
            reaped += run.fail_abandoned(reason, now=now)
    return reaped
