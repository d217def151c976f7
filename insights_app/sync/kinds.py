"""What each kind of run does: plan the organisation's rooms, or sync the rooms, sessions,
external id or participants a scoped run names."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db.models import Q

from ..models import (
    LiveRoom,
    Participant,
    Room,
    RoomSession,
    SyncKind,
    SyncRun,
    SyncStatus,
    SyncTrigger,
    WebhookEvent,
)
from ..models.webhooks import FOLLOWED_FOR
from .backend import RoomWork
from .batching import ParticipantBuffer, fetch_and_gather, gathering, sync_session_participants
from .clock import db_now
from .context import RunContext
from .details import iter_detail_targets, pending_details, sync_details
from .horizon_steps import fan_out_newest_first
from .horizons import fill_newest_first
from .pipeline import room_failures, work_on_rooms
from .runs import SyncError
from .stages import (
    RoomRef,
    list_rooms,
    mark_missing_rooms,
    store_room_page,
    sync_external_id_participants,
    sync_room_sessions,
)

logger = logging.getLogger(__name__)

# A failed or cancelled full run this recent is resumed after the rooms it finished.
RESUME_WITHIN = timedelta(hours=24)


def dispatch(ctx: RunContext) -> bool:
    """Do the work of the run's kind; True when it was handed to other jobs (fan-out)."""
    kind = ctx.run.kind
    if kind in (SyncKind.FULL, SyncKind.INCREMENTAL):
        return _sync_organisation(ctx, full=kind == SyncKind.FULL)
    if kind == SyncKind.ROOM:
        _sync_rooms_by_name(ctx, ctx.run.scope["room_names"])
    elif kind == SyncKind.SESSION:
        _sync_sessions(ctx, ctx.run.scope["room_session_ids"])
    elif kind == SyncKind.EXTERNAL_ID:
        _sync_external_id(ctx, ctx.run.scope["external_id"])
    elif kind == SyncKind.DETAILS:
        _sync_details_of(ctx, ctx.run.scope["participant_ids"])
    return False


def _sync_organisation(ctx: RunContext, *, full: bool) -> bool:
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
    if len(work) >= conf.FANOUT_MIN_ROOMS:
        size = conf.FANOUT_ROOMS_PER_JOB
        if full:
            if fan_out_newest_first(ctx, work, size):
                return True
        elif ctx.backend.fan_out(ctx.run, [work[i : i + size] for i in range(0, len(work), size)]):
            return True
    if full:
        fill_newest_first(ctx, work, resume_since=resume_since)
        return False
    with gathering(ctx) as buffer:
        work_on_rooms(ctx, work, buffer)
    return False


def _resume_point(run: SyncRun) -> Any:
    """When the last full run failed or was cancelled recently, resume after the rooms it finished."""
    last = (
        SyncRun.objects.finished()
        .filter(kind=SyncKind.FULL, started_at__gte=db_now() - RESUME_WITHIN)
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
    occupied: set[int] = set()
    if not full and ctx.run.trigger == SyncTrigger.SCHEDULE and WebhookEvent.objects.healthy():
        # The schedule is the webhooks' safety net: an active room's session end schedules its sync.
        occupied_names = LiveRoom.objects.occupied_now().values_list("room_name", flat=True)
        # ... and so is one whose ended session the API still shows running: its catch-up follows it
        # (reading it now would fetch a session that is still going, then again once it shows ended).
        followed = WebhookEvent.objects.ended_sessions_missing(timedelta(0), FOLLOWED_FOR).values("room_name")
        occupied = set(
            Room.objects.filter(Q(room_name__in=occupied_names) | Q(room_name__in=followed)).values_list(
                "pk", flat=True
            )
        )
        # ... except a room where a session the webhooks said had ended is still missing after that.
        active_rooms = set(
            Room.objects.filter(
                room_name__in=WebhookEvent.objects.ended_sessions_missing(FOLLOWED_FOR).values("room_name")
            ).values_list("pk", flat=True)
        )
        occupied -= active_rooms
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
            changed = signature != ref.signature and ref.pk not in occupied
            refresh = changed or ref.pk in active_rooms
        if refresh or ref.pk in detail_rooms:
            work.append(
                RoomWork(ref.pk, ref.room_name, ref.signature, refresh=refresh, force=full, is_new=ref.is_new)
            )
    return work


def work_on_room(ctx: RunContext, work: RoomWork) -> None:
    """Sessions, participants and details of one room; a failure is recorded and the run goes on.

    Participants are stored in batches, and the room is marked complete with its last rows.
    """
    ref = RoomRef(work.room_pk, work.room_name, work.signature, work.is_new)
    buffer = ParticipantBuffer(ctx)
    trouble_before = ctx.trouble
    with room_failures(ctx, work.room_name):
        if work.refresh:
            sessions = sync_room_sessions(ctx, ref, force=work.force)
            if ctx.run.trigger == SyncTrigger.WEBHOOK:
                # One still going: its own room.session.ended brings its participants.
                sessions = [session for session in sessions if session.ended_at is not None]
            fetch_and_gather(ctx, buffer, sessions, work.room_name)
        if ctx.run.details_policy != "none":
            buffer.flush()  # the room's participants are read back to pick the connections needing details
            targets = pending_details(ctx, ctx.run.details_policy, room_pks=[work.room_pk])
            sync_details(ctx, iter_detail_targets(targets))
        if work.refresh and ctx.trouble == trouble_before:
            marks = {"sessions_synced_signature": work.signature, "sessions_synced_at": ctx.now}
            if work.force:
                marks["full_synced_at"] = ctx.now  # what a resumed full run may skip
            buffer.mark_room(work.room_pk, marks)
        buffer.flush()
    ctx.progress(done=1)


def _rooms_named(ctx: RunContext, names: list[str]) -> list[RoomRef]:
    """The named rooms, stored as listed: one listing of all rooms when that takes fewer calls.

    A room the API does not list is a problem of the run; none of them listed fails it.
    """
    found: dict[str, RoomRef] = {}
    if len(names) > 1 and len(names) > -(-Room.objects.count() // 100):
        found = {ref.room_name: ref for ref in list_rooms(ctx)[0]}
    else:
        for name in names:
            for page in ctx.client.iter_room_pages(room_name_exact=name):
                found.update((r.room_name, r) for r in store_room_page(ctx, page) if r.room_name == name)
    missing = [name for name in names if name not in found]
    if len(missing) == len(names):
        raise SyncError(f"no room named {missing[0]!r} in the Whereby API")
    for name in missing:
        ctx.problem(f"no room named {name!r} in the Whereby API")
    return [found[name] for name in names if name in found]


def _sync_rooms_by_name(ctx: RunContext, names: list[str]) -> None:
    if ctx.run.trigger == SyncTrigger.WEBHOOK:
        _sync_rooms_after_webhooks(ctx, names)
        return
    refs = _rooms_named(ctx, names)
    ctx.progress(total=len(refs))
    ctx.flush()
    # Asked by a person, every session of the room is read again.
    for ref in refs:
        work_on_room(ctx, RoomWork(ref.pk, ref.room_name, ref.signature, refresh=True, force=True))
        ctx.flush()


def _ended_in(room_pk: int) -> int:
    return RoomSession.objects.filter(room_id=room_pk, ended_at__isnull=False).count()


def _sync_rooms_after_webhooks(ctx: RunContext, names: list[str]) -> None:
    """A webhook says what changed: the room's new and changed sessions are enough (one still going is
    read when it ends), and its delay has waited out the API's data lag.

    A stored room's sessions are read first; the room itself (one rooms call, for its fingerprint, so
    that the safety net leaves it) only when a session of it showed ended. A look that finds the
    session still running (the lag outlasted the wait) then costs one call, not two.
    """
    stored = dict(
        Room.objects.filter(room_name__in=names, missing_since__isnull=True).values_list("room_name", "pk")
    )
    new = [name for name in names if name not in stored]
    refs = []
    if new:
        try:
            refs = _rooms_named(ctx, new)
        except SyncError as error:
            if not stored:
                raise
            ctx.problem(str(error))
    ctx.progress(total=len(refs) + len(stored))
    ctx.flush()
    ctx.lookback = timedelta(0)
    for ref in refs:
        work_on_room(ctx, RoomWork(ref.pk, ref.room_name, ref.signature, refresh=True, force=False))
        ctx.flush()
    signatures = dict(
        Room.objects.filter(pk__in=stored.values()).values_list("pk", "sessions_synced_signature")
    )
    ended: list[str] = []
    for name, pk in sorted(stored.items()):
        before, trouble = _ended_in(pk), ctx.trouble
        # Marked with the fingerprint it had: unchanged until the room is read below.
        work_on_room(ctx, RoomWork(pk, name, signatures.get(pk) or "", refresh=True, force=False))
        ctx.flush()
        if ctx.trouble == trouble and _ended_in(pk) != before:
            ended.append(name)
    if ended:
        # Read after its sessions: a session starting in between is told by its own webhooks. A room
        # deleted in Whereby meanwhile is a problem of the run: its sessions are stored already.
        try:
            refs = _rooms_named(ctx, ended)
        except SyncError as error:
            ctx.problem(str(error))
            refs = []
        for ref in refs:
            Room.objects.filter(pk=ref.pk).update(sessions_synced_signature=ref.signature)


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
        # Their sessions are new to us. The backend brings the organisation up to date under its own
        # lock (one organisation pass at a time, whoever asks), then these participants are stored too.
        logger.info("external id sync: %d sessions not stored yet; refreshing the organisation", len(unknown))
        org_run, created = ctx.backend.refresh_organisation(ctx.run.trigger)
        if not created:
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
