"""The sync service: one function per operation, called alike by the job, the command and the admin."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from rq.timeouts import BaseTimeoutException

from ..client import WherebyClient
from ..conf import DETAIL_POLICIES, get_settings
from ..errors import WherebyError
from ..models import Participant, Room, RoomSession, SyncKind, SyncRun, SyncStatus
from .context import Cancelled, Heartbeat, RunContext, heartbeat_interval
from .stages import (
    FATAL_ERRORS,
    OUTAGE_ERRORS,
    RoomRef,
    iter_detail_targets,
    list_rooms,
    mark_missing_rooms,
    pending_details,
    store_room_page,
    sync_details,
    sync_external_id_participants,
    sync_room_sessions,
    sync_session_participants,
)

logger = logging.getLogger(__name__)

RESUME_WITHIN = timedelta(hours=24)


class SyncError(WherebyError):
    """The sync cannot do what was asked (an unknown room or session, a bad scope)."""


@dataclass(frozen=True)
class RoomWork:
    """One room's share of a run: refresh its sessions (and their participants), then its details."""

    room_pk: int
    room_name: str
    signature: str
    refresh: bool
    force: bool

    def as_payload(self) -> dict[str, Any]:
        """JSON-safe form for an RQ job argument."""
        return asdict(self)


FanOut = Callable[[SyncRun, list[list[RoomWork]]], None]


# Creating runs ----------------------------------------------------------------------------------


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
    needs = {
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
    job_alive: Callable[[SyncRun], bool] | None = None,
) -> tuple[SyncRun, bool]:
    """A new queued run, or (False) the run already queued or running for the same scope."""
    scope = {k: v for k, v in (scope or {}).items() if v not in (None, [], "")}
    validate_scope(kind, scope, details)
    key = dedup_key_for(kind, scope)
    reap_abandoned_runs(job_alive=job_alive)
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
            return run, True
        except IntegrityError:
            existing = SyncRun.objects.active().filter(dedup_key=key).first()
            if existing is not None:
                return existing, False
    raise SyncError("could not create a sync run: another process keeps racing for the same scope")


# Running ----------------------------------------------------------------------------------------


def execute_run(
    run_id: int,
    *,
    client: WherebyClient | None = None,
    fan_out: FanOut | None = None,
    on_progress: Callable[[SyncRun], None] | None = None,
    retrying: bool = False,
) -> SyncRun:
    """Do the work of a run (or hand it to batch jobs through ``fan_out``); returns the run.

    With ``retrying`` a transient failure puts the run back to queued and re-raises, so the
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
        ctx = RunContext(run, client, on_progress=on_progress)
        with Heartbeat(run.pk, heartbeat_interval()):
            handed_off = _dispatch(ctx, fan_out)
        ctx.flush(force=True)
        if handed_off:
            return SyncRun.objects.get(pk=run.pk)
        return finish_run(run.pk, ambiguous_loss_items=ctx.ambiguous_loss_items)
    except Cancelled:
        return _close(run, SyncStatus.CANCELLED)
    except Exception as exc:
        if ctx is not None:
            _flush_quietly(ctx)
        transient = isinstance(exc, WherebyError) and not isinstance(exc, (*FATAL_ERRORS, SyncError))
        if retrying and transient:
            run.requeue_for_retry(safe_error(exc))
        else:
            _close(run, SyncStatus.FAILED, error=safe_error(exc))
        raise
    finally:
        if own_client and client is not None:
            client.close()


def execute_batch(
    run_id: int, payload: list[dict[str, Any]], *, client: WherebyClient | None = None, retrying: bool = False
) -> None:
    """A fan-out job's share: the listed rooms. Failures are recorded on the run, never lost.

    An outage is raised while RQ can still retry the batch (``retrying``); after the last attempt
    it is recorded, so the closing job marks the run partial.
    """
    run = SyncRun.objects.get(pk=run_id)
    if run.status != SyncStatus.RUNNING:
        return
    own_client = client is None
    client = client or WherebyClient.from_settings()
    ctx = RunContext(run, client)
    try:
        with Heartbeat(run.pk, heartbeat_interval()):
            for item in payload:
                work_on_room(ctx, RoomWork(**item))
    except Cancelled:
        return
    except OUTAGE_ERRORS as exc:
        if retrying:
            raise
        ctx.problem(f"batch of {len(payload)} rooms stopped: {safe_error(exc)}")
    except BaseTimeoutException:
        ctx.problem(f"batch of {len(payload)} rooms stopped: the job ran out of time (JOB_TIMEOUT)")
        raise
    except Exception as exc:
        ctx.problem(f"batch of {len(payload)} rooms stopped: {safe_error(exc)}")
    finally:
        _flush_quietly(ctx)
        if own_client:
            client.close()


def finish_run(run_id: int, *, ambiguous_loss_items: int = 0) -> SyncRun:
    """Close a run: cancelled if asked, partial when anything was skipped, else succeeded."""
    run = SyncRun.objects.get(pk=run_id)
    if not run.is_active:
        return run
    if ambiguous_loss_items:
        logger.info(
            "sync run %s read %d detail items whose packet loss was all within 0-1 as fractions "
            "(set WHEREBY_INSIGHTS['PACKET_LOSS_UNIT'] to 'percent' if your organisation reports percent)",
            run.pk,
            ambiguous_loss_items,
        )
        run.merge_checkpoint(loss_read_as_fraction=ambiguous_loss_items)
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


def safe_error(exc: BaseException) -> str:
    """A short, single-line error for staff, with the API key removed whatever produced the text."""
    text = f"{type(exc).__name__}: {exc}" if not isinstance(exc, WherebyError) else str(exc)
    key = get_settings().API_KEY
    if isinstance(key, str) and key.strip():
        # The key as given, stripped, and as repr() escapes it (a key with a newline shows as "\\n").
        for variant in {key, key.strip(), repr(key)[1:-1]}:
            if variant:
                text = text.replace(variant, "********")
    return " ".join(text.split())[:500]


# What each kind does ----------------------------------------------------------------------------


def _dispatch(ctx: RunContext, fan_out: FanOut | None) -> bool:
    kind = ctx.run.kind
    if kind in (SyncKind.FULL, SyncKind.INCREMENTAL):
        return _sync_organisation(ctx, full=kind == SyncKind.FULL, fan_out=fan_out)
    if kind == SyncKind.ROOM:
        _sync_rooms_by_name(ctx, ctx.run.scope["room_names"])
    elif kind == SyncKind.SESSION:
        _sync_sessions(ctx, ctx.run.scope["room_session_ids"])
    elif kind == SyncKind.EXTERNAL_ID:
        _sync_external_id(ctx, ctx.run.scope["external_id"])
    elif kind == SyncKind.DETAILS:
        _sync_details_of(ctx, ctx.run.scope["participant_ids"])
    return False


def _sync_organisation(ctx: RunContext, *, full: bool, fan_out: FanOut | None) -> bool:
    refs, listed = list_rooms(ctx)
    mark_missing_rooms(ctx, listed)
    resume_since = _resume_point(ctx.run) if full else None
    work = plan_room_work(ctx, refs, full=full, resume_since=resume_since)
    ctx.run.restart_progress(len(work))
    marks: dict[str, Any] = {"rooms_listed": len(refs), "rooms_to_sync": len(work)}
    if resume_since is not None:
        marks["resumed_since"] = resume_since.isoformat()
    ctx.run.merge_checkpoint(**marks)
    ctx.flush(force=True)
    conf = ctx.conf
    if fan_out is not None and len(work) >= conf.FANOUT_MIN_ROOMS:
        size = conf.FANOUT_ROOMS_PER_JOB
        batches = [work[i : i + size] for i in range(0, len(work), size)]
        fan_out(ctx.run, batches)
        return True
    for item in work:
        work_on_room(ctx, item)
        ctx.flush(force=True)
    return False


def _resume_point(run: SyncRun) -> Any:
    """When the last full run failed or was cancelled recently, resume after the rooms it finished."""
    last = (
        SyncRun.objects.finished()
        .filter(kind=SyncKind.FULL, started_at__gte=timezone.now() - RESUME_WITHIN)
        .exclude(pk=run.pk)
        .order_by("-started_at")
        .first()
    )
    if last is None or last.status not in (SyncStatus.FAILED, SyncStatus.CANCELLED):
        return None
    return last.started_at


def plan_room_work(
    ctx: RunContext, refs: list[RoomRef], *, full: bool, resume_since: Any = None
) -> list[RoomWork]:
    """Which rooms to refresh (changed, active, or all when full) and which only need details."""
    # Read every room's marks in one streamed pass: an IN list of all listed rooms would exceed
    # SQLite's variable limit for large organisations.
    stored = {
        pk: (signature, full_synced_at)
        for pk, signature, full_synced_at in Room.objects.values_list(
            "pk", "sessions_synced_signature", "full_synced_at"
        ).iterator(chunk_size=5000)
    }
    recent = ctx.now - ctx.lookback
    active_rooms = set(
        RoomSession.objects.filter(Q(ended_at__isnull=True) | Q(ended_at__gte=recent))
        .values_list("room_id", flat=True)
        .distinct()
    )
    detail_rooms = set(
        pending_details(ctx, ctx.run.details_policy)
        .values_list("room_session__room_id", flat=True)
        .distinct()
    )
    work = []
    for ref in sorted(refs, key=lambda r: r.room_name):
        signature, full_synced_at = stored.get(ref.pk, ("", None))
        if full:
            # Only a forced (full) pass since the failed run started counts: an incremental run may
            # have completed the room without re-reading every session.
            done_before = (
                resume_since is not None and full_synced_at is not None and full_synced_at >= resume_since
            )
            refresh = not (done_before and signature == ref.signature)
        else:
            refresh = signature != ref.signature or ref.pk in active_rooms
        if refresh or ref.pk in detail_rooms:
            work.append(RoomWork(ref.pk, ref.room_name, ref.signature, refresh=refresh, force=full))
    return work


def work_on_room(ctx: RunContext, work: RoomWork) -> None:
    """Sessions, participants and details of one room; a failure is recorded and the run goes on."""
    ref = RoomRef(work.room_pk, work.room_name, work.signature)
    trouble_before = ctx.trouble
    try:
        if work.refresh:
            for session in sync_room_sessions(ctx, ref, force=work.force):
                try:
                    sync_session_participants(ctx, session)
                except (Cancelled, *FATAL_ERRORS, *OUTAGE_ERRORS):
                    raise
                except WherebyError as exc:
                    ctx.problem(
                        f"session {session.room_session_id} of room {work.room_name}: {safe_error(exc)}"
                    )
        targets = pending_details(ctx, ctx.run.details_policy, room_pks=[work.room_pk])
        sync_details(ctx, iter_detail_targets(targets))
        if work.refresh and ctx.trouble == trouble_before:
            marks = {"sessions_synced_signature": work.signature, "sessions_synced_at": ctx.now}
            if work.force:
                marks["full_synced_at"] = ctx.now  # what a resumed full run may skip
            Room.objects.filter(pk=work.room_pk).update(**marks)
    except (Cancelled, *FATAL_ERRORS, *OUTAGE_ERRORS, BaseTimeoutException):
        raise
    except WherebyError as exc:
        ctx.problem(f"room {work.room_name}: {safe_error(exc)}")
    except Exception as exc:
        # Not the API's doing (a database refusing a value, a bug): keep the other rooms going.
        logger.exception("sync run %s: room %s failed", ctx.run.pk, work.room_name)
        ctx.problem(f"room {work.room_name}: unexpected {safe_error(exc)}")
    ctx.progress(done=1)


def _sync_rooms_by_name(ctx: RunContext, names: list[str]) -> None:
    refs = []
    for name in names:
        found = []
        for page in ctx.client.iter_room_pages(room_name_exact=name):
            found.extend(r for r in store_room_page(ctx, page) if r.room_name == name)
        if not found:
            raise SyncError(f"no room named {name!r} in the Whereby API")
        refs.extend(found)
    ctx.progress(total=len(refs))
    ctx.flush()
    for ref in refs:
        work_on_room(ctx, RoomWork(ref.pk, ref.room_name, ref.signature, refresh=True, force=True))
        ctx.flush()


def _sync_sessions(ctx: RunContext, session_ids: list[str]) -> None:
    sessions = {
        s.room_session_id: s
        for s in RoomSession.objects.filter(room_session_id__in=session_ids).select_related("room")
    }
    unknown = [s for s in session_ids if s not in sessions]
    if unknown:
        raise SyncError(
            f"unknown session {unknown[0]!r}: it is not stored yet, so its room is unknown; sync its room first"
        )
    ctx.progress(total=len(sessions))
    for session in sessions.values():
        room = RoomRef(session.room_id, session.room.room_name, session.room.sessions_synced_signature)
        for todo in sync_room_sessions(ctx, room, room_session_id=session.room_session_id, force=True):
            sync_session_participants(ctx, todo)
        targets = pending_details(ctx, ctx.run.details_policy).filter(room_session_id=session.pk)
        sync_details(ctx, iter_detail_targets(targets))
        ctx.progress(done=1)
        ctx.flush()


def _sync_external_id(ctx: RunContext, external_id: str) -> None:
    stored, unknown = sync_external_id_participants(ctx, external_id, final=False)
    if unknown:
        # Their sessions are new to us. Bring the organisation up to date under its own lock (one
        # organisation pass at a time, whoever asks), then store these participants too.
        from ..jobs import job_alive  # asks RQ before calling a quiet run abandoned

        org_run, created = create_or_get_active_run(
            SyncKind.INCREMENTAL, trigger=ctx.run.trigger, job_alive=job_alive
        )
        if created:
            logger.info(
                "external id sync: %d sessions not stored yet; running sync #%s", len(unknown), org_run.pk
            )
            # Its own client, so each run counts only its own API calls (the budget is shared anyway).
            execute_run(org_run.pk)
        else:
            ctx.problem(
                f"{len(unknown)} sessions of this external id are not stored yet; organisation sync "
                f"#{org_run.pk} is {org_run.status} and will bring them in: run this again after it"
            )
        stored, unknown = sync_external_id_participants(ctx, external_id, final=created)
    targets = pending_details(ctx, ctx.run.details_policy).filter(pk__in=stored)
    sync_details(ctx, iter_detail_targets(targets))


def _sync_details_of(ctx: RunContext, participant_ids: list[int]) -> None:
    targets = Participant.objects.filter(pk__in=participant_ids)
    ctx.progress(total=targets.count())
    sync_details(ctx, iter_detail_targets(targets), count_progress=True)


# Cancelling and abandoned runs ------------------------------------------------------------------


def request_cancel(run: SyncRun) -> SyncRun:
    """Queued runs stop now; running ones at their next page boundary."""
    run.request_cancel()
    return run


def reap_abandoned_runs(*, job_alive: Callable[[SyncRun], bool] | None = None) -> int:
    """Mark failed the runs whose worker went silent (killed) or whose queued job is gone."""
    now = timezone.now()
    stale = now - timedelta(seconds=get_settings().ABANDONED_AFTER_SECONDS)
    reaped = 0
    candidates = SyncRun.objects.filter(
        Q(status=SyncStatus.RUNNING, heartbeat_at__lt=stale)
        | Q(status=SyncStatus.RUNNING, heartbeat_at__isnull=True, started_at__lt=stale)
        | Q(status=SyncStatus.QUEUED, queued_at__lt=stale)
    )
    for run in candidates:
        if job_alive is not None and job_alive(run):
            continue
        if run.status == SyncStatus.QUEUED and job_alive is None:
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
