"""The five rules: each looks at what the app already records and returns its current findings."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Any

from django.db.models import Count, ExpressionWrapper, F, FloatField, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from rq import Queue, Worker
from rq.job import Job

from ..conf import get_settings
from ..models import ACTIVE_STATUSES, AlertRule, Participant, SyncKind, SyncRun, SyncStatus
from ..models.clock import db_now
from ..models.expressions import room_name_of
from ..redis_clients import queue_redis
from ..whereby.budget.current import get_budget
from ..whereby.budget.shared import RedisBudget
from .settings import alert_settings, stale_after_minutes

ORG_KINDS = (SyncKind.FULL, SyncKind.INCREMENTAL)
DONE_STATUSES = (SyncStatus.SUCCEEDED, SyncStatus.PARTIAL, SyncStatus.FAILED)
# How the client's AuthenticationError / PermissionDenied / ConfigurationError read on SyncRun.error.
AUTH_FAILURE = re.compile(r"\((401|403)\)|No Whereby API key|API key contains whitespace")


@dataclass(frozen=True)
class Finding:
    """A rule's condition holds for ``subject``; ``details`` holds the ids the cause link needs."""

    rule: str
    subject: str
    title: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)


# A rule returns its findings, or None when it cannot tell (then its open alerts stay as they are).
Rule = Callable[[dict[str, Any]], list[Finding] | None]


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def stale_data(values: dict[str, Any]) -> list[Finding]:
    """No succeeded or partial organisation sync for longer than STALE_AFTER_MINUTES."""
    limit = timedelta(minutes=stale_after_minutes(values))
    now = db_now()  # finish and queue times are the database's clock
    org_runs = SyncRun.objects.filter(kind__in=ORG_KINDS)
    last = (
        org_runs.filter(status__in=[SyncStatus.SUCCEEDED, SyncStatus.PARTIAL], finished_at__isnull=False)
        .order_by("-finished_at")
        .values("pk", "finished_at")
        .first()
    )
    if last is not None:
        since, text = (
            last["finished_at"],
            _("The last successful organisation sync finished %(age)s minutes ago."),
        )
    else:
        # Never synced: count from the first run, so a fresh install with no runs is not alarmed.
        first = org_runs.order_by("queued_at").values_list("queued_at", flat=True).first()
        if first is None:
            return []
        since, text = (
            first,
            _("No organisation sync has succeeded since the first one was queued %(age)s minutes ago."),
        )
    age = now - since
    if age <= limit:
        return []
    return [
        Finding(
            AlertRule.STALE_DATA,
            "org",
            _("Whereby data is stale: no successful sync for %(minutes)s minutes")
            % {"minutes": _minutes(age)},
            text % {"age": _minutes(age)}
            + " "
            + _("Alert after %(limit)s minutes.") % {"limit": _minutes(limit)},
            {"last_success_id": last["pk"] if last else None},
        )
    ]


def failing_syncs(values: dict[str, Any]) -> list[Finding]:
    """FAILED_RUNS_IN_A_ROW organisation runs failed in a row, or the newest run failed on 401/403."""
    in_a_row = int(values["FAILED_RUNS_IN_A_ROW"])
    newest = list(
        SyncRun.objects.filter(status__in=DONE_STATUSES, finished_at__isnull=False)
        .order_by("-finished_at", "-pk")
        .values("pk", "kind", "status", "error")[: max(in_a_row, 1) * 4]
    )
    if not newest:
        return []
    latest = newest[0]
    if latest["status"] == SyncStatus.FAILED and AUTH_FAILURE.search(latest["error"] or ""):
        return [
            Finding(
                AlertRule.FAILING_SYNCS,
                "org",
                _("Whereby API key refused: syncs fail on authentication"),
                _("Sync run #%(run)s failed: %(error)s") % {"run": latest["pk"], "error": latest["error"]},
                {"run_id": latest["pk"], "auth": True},
            )
        ]
    org = [run for run in newest if run["kind"] in ORG_KINDS][:in_a_row]
    if in_a_row and len(org) == in_a_row and all(run["status"] == SyncStatus.FAILED for run in org):
        return [
            Finding(
                AlertRule.FAILING_SYNCS,
                "org",
                _("%(count)s Whereby syncs failed in a row") % {"count": in_a_row},
                _("Sync run #%(run)s failed: %(error)s") % {"run": org[0]["pk"], "error": org[0]["error"]},
                {"run_id": org[0]["pk"], "auth": False},
            )
        ]
    return []


def _budget_paused_seconds() -> float | None:
    """How long the shared budget is still paused (the client pauses it on a 429 or when the
    organisation's remaining points reach RATE_LOW_REMAINING); None when Redis cannot tell."""
    budget = get_budget()
    if not isinstance(budget, RedisBudget):
        return None
    # The budget keeps the pause as a key with an expiry; its TTL is the pause still to come.
    ttl = budget._connection.pttl(budget._pause_key)
    return max(0, ttl) / 1000.0


def budget_pressure(values: dict[str, Any]) -> list[Finding] | None:
    """We received BUDGET_MAX_THROTTLES 429s within the window, or the organisation's points ran low."""
    since = db_now() - timedelta(minutes=float(values["BUDGET_WINDOW_MINUTES"]))
    limit = int(values["BUDGET_MAX_THROTTLES"])
    throttles = 0
    if limit:
        throttles = (
            SyncRun.objects.filter(Q(finished_at__gte=since) | Q(status__in=ACTIVE_STATUSES)).aggregate(
                n=Sum("api_throttles")
            )["n"]
            or 0
        )
    paused = None
    if values["BUDGET_LOW_REMAINING"]:
        try:
            paused = _budget_paused_seconds()
        except Exception:  # (Redis trouble makes this half unknown, never the tick fail)
            paused = None
    if limit and throttles >= limit:
        message = _(
            "%(count)s requests were refused with 429 Too Many Requests in the last %(minutes)s minutes."
        ) % {
            "count": throttles,
            "minutes": values["BUDGET_WINDOW_MINUTES"],
        }
    elif paused:
        message = _(
            "The organisation's remaining API points fell to RATE_LOW_REMAINING (%(floor)s): every sync "
            "waits %(seconds)s s for the budget to refill."
        ) % {"floor": get_settings().RATE_LOW_REMAINING, "seconds": round(paused)}
    else:
        # With the 429 count off and Redis silent, this rule cannot tell: keep its alert as it is.
        return None if (values["BUDGET_LOW_REMAINING"] and paused is None and not limit) else []
    return [
        Finding(
            AlertRule.BUDGET_PRESSURE,
            "org",
            _("Whereby API budget under pressure"),
            message,
            {"throttles": throttles},
        )
    ]


def degraded_rooms(values: dict[str, Any]) -> Any:
    """Rooms over the quality threshold in the window, with their counts: ONE grouped query."""
    since = timezone.now() - timedelta(hours=float(values["QUALITY_WINDOW_HOURS"]))
    percent = float(values["QUALITY_DEGRADED_PERCENT"])
    return (
        Participant.objects.filter(joined_at__gte=since, quality_degraded__isnull=False, room__isnull=False)
        .values("room_id")
        .annotate(
            measured=Count("id"),
            degraded=Count("id", filter=Q(quality_degraded=True)),
            room_name=room_name_of("room_id"),
        )
        .annotate(excess=ExpressionWrapper(F("degraded") * 100.0 - F("measured") * percent, FloatField()))
        .filter(measured__gte=int(values["QUALITY_MIN_CONNECTIONS"]), excess__gt=0)
        .order_by("room_id")
    )


def quality(values: dict[str, Any]) -> list[Finding]:
    """A room whose share of degraded connections over the window exceeds the threshold."""
    findings = []
    for row in degraded_rooms(values):
        share = 100.0 * row["degraded"] / row["measured"]
        findings.append(
            Finding(
                AlertRule.QUALITY,
                f"room:{row['room_id']}",
                _("Poor network quality in room %(room)s: %(share).0f%% of connections degraded")
                % {"room": row["room_name"], "share": share},
                _(
                    "%(degraded)s of %(measured)s measured connections in the last %(hours)s hours had "
                    "packet loss at or above the degraded threshold (alert above %(limit)s%%)."
                )
                % {
                    "degraded": row["degraded"],
                    "measured": row["measured"],
                    "hours": values["QUALITY_WINDOW_HOURS"],
                    "limit": values["QUALITY_DEGRADED_PERCENT"],
                },
                {"room_id": row["room_id"], "room_name": row["room_name"]},
            )
        )
    return findings


def worker_gone(values: dict[str, Any]) -> list[Finding] | None:
    """Jobs have waited on our queue for WORKER_GONE_MINUTES and no worker listens on it."""

    name = get_settings().QUEUE
    try:
        conn = queue_redis(name, 2.0)
        queue = Queue(name, connection=conn)
        oldest_ids = queue.get_job_ids(0, 0)
        # Worker.all drops workers whose key expired (killed without deregistering); count() would not.
        if not oldest_ids or Worker.all(queue=queue):
            return []
        job = Job.fetch(oldest_ids[0], connection=conn)
        waiting = job.enqueued_at
        count = queue.count
    except Exception:  # (Redis down or misconfigured: the health panel says so; here we cannot tell)
        return None
    if waiting is None:
        return []
    waited = timezone.now() - waiting.replace(tzinfo=waiting.tzinfo or UTC)
    if waited < timedelta(minutes=float(values["WORKER_GONE_MINUTES"])):
        return []
    return [
        Finding(
            AlertRule.WORKER_GONE,
            f"queue:{name}",
            _("No worker on the queue “%(queue)s”: %(count)s jobs waiting") % {"queue": name, "count": count},
            _(
                "The oldest job has waited %(minutes)s minutes and no worker listens on the queue: start "
                "one with manage.py rqworker %(queue)s."
            )
            % {"minutes": _minutes(waited), "queue": name},
            {"queue": name},
        )
    ]


RULES: dict[str, Rule] = {
    AlertRule.STALE_DATA: stale_data,
    AlertRule.FAILING_SYNCS: failing_syncs,
    AlertRule.BUDGET_PRESSURE: budget_pressure,
    AlertRule.QUALITY: quality,
    AlertRule.WORKER_GONE: worker_gone,
}


def active_rules(values: dict[str, Any] | None = None) -> dict[str, Rule]:
    """The rules not listed in DISABLED_RULES."""
    values = values or alert_settings()
    disabled = set(values["DISABLED_RULES"] or [])
    return {name: rule for name, rule in RULES.items() if name not in disabled}
