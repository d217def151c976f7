"""One run of the sync: what was asked, by whom, how it went, and where to resume.

Every change of a run's state goes through a method here (see docs/architecture.md): each is one
guarded UPDATE, so concurrent jobs, the reaper and a cancelling admin never undo each other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connections, models, transaction
from django.db.models import F, Q
from django.db.models.expressions import RawSQL
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

SYNCED_MODELS = ("rooms", "sessions", "participants", "details")
COUNT_KINDS = ("created", "updated", "unchanged", "skipped")


class SyncKind(models.TextChoices):
    """What a run covers."""

    INCREMENTAL = "incremental", _("incremental")
    FULL = "full", _("full")
    ROOM = "room", _("one room")
    SESSION = "session", _("one session")
    EXTERNAL_ID = "external_id", _("one external id")
    DETAILS = "details", _("quality details")


class SyncStatus(models.TextChoices):
    """Where a run is in its life."""

    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    SUCCEEDED = "succeeded", _("succeeded")
    PARTIAL = "partial", _("partial")
    FAILED = "failed", _("failed")
    CANCELLED = "cancelled", _("cancelled")


ACTIVE_STATUSES = (SyncStatus.QUEUED, SyncStatus.RUNNING)


# At most this many distinct skip reasons are kept per run (the most frequent).
MAX_SKIP_REASONS = 200


# Skip reasons of single items start with the model (RunContext.skip); anything else (a room, a
# session, a batch that failed) means part of the data was not refreshed.
ITEM_SKIP_PREFIXES = tuple(f"{model}: " for model in SYNCED_MODELS)


# Only the newest completed runs are looked at: a site whose last 50 runs all lost rooms is not fresh.
RECENT_COMPLETED = 50
# The keys of run ``r``'s skip reasons as rows of one column ``k``, per database.
_SKIP_KEYS = {
    "postgresql": "SELECT k FROM jsonb_object_keys(CASE WHEN jsonb_typeof(r.skip_reasons) = 'object'"
    " THEN r.skip_reasons ELSE '{}'::jsonb END) AS keys(k)",
    "sqlite": "SELECT key AS k FROM json_each(r.skip_reasons)",
}


def _completed_run_sql(vendor: str, table: str) -> tuple[str, list[Any]] | None:
    """SQL giving ``(id, finished_at)`` of the last completed run in one statement with no row loaded
    (None on a database without a JSON key function here)."""
    keys = _SKIP_KEYS.get(vendor)
    if keys is None:
        return None
    item_only = " OR ".join(f"substr(s.k, 1, {len(prefix)}) = %s" for prefix in ITEM_SKIP_PREFIXES)
    sql = (
        # Table and key SQL are ours, the values parameters.
        f"SELECT r.id, r.finished_at FROM (SELECT id, finished_at, status, skip_reasons FROM {table}"  # noqa: S608
        " WHERE status IN (%s, %s) AND finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT %s) AS r"
        f" WHERE r.status = %s OR NOT EXISTS (SELECT 1 FROM ({keys}) AS s WHERE NOT ({item_only}))"
        " ORDER BY r.finished_at DESC LIMIT 1"
    )
    params = [
        SyncStatus.SUCCEEDED.value,
        SyncStatus.PARTIAL.value,
        RECENT_COMPLETED,
        SyncStatus.SUCCEEDED.value,
    ]
    return sql, [*params, *ITEM_SKIP_PREFIXES]


class SyncRunQuerySet(models.QuerySet):
    """Runs by where they are in their life, and the updates that need no loaded row."""

    def active(self) -> SyncRunQuerySet:
        """Queued or running runs."""
        return self.filter(status__in=ACTIVE_STATUSES)

    def finished(self) -> SyncRunQuerySet:
        """Runs that have ended, whatever the outcome."""
        return self.exclude(status__in=ACTIVE_STATUSES)

    def heartbeat(self) -> int:
        """Mark these runs alive now (the heartbeat thread, which holds only a run's id)."""
        return self.update(heartbeat_at=Now())

    def completed_sql(self) -> tuple[str, list[Any]] | None:
        """SQL giving ``(id, finished_at)`` of ``last_completed()`` in one statement with no row loaded
        (None on a database without a JSON key function here)."""
        return _completed_run_sql(connections[self.db].vendor, self.model._meta.db_table)

    def last_completed(self) -> SyncRun | None:
        """The newest run that refreshed what it covered: succeeded, or partial with only single items
        skipped (a partial run whose rooms failed, e.g. in an outage, does not make the data fresh)."""
        found = self.completed_sql()
        if found is not None:
            sql, params = found
            newest = RawSQL(f"SELECT c.id FROM ({sql}) AS c", params)  # noqa: S608, S611 (our SQL, see above)
            return self.filter(pk__in=newest).first()
        recent = self.filter(
            status__in=[SyncStatus.SUCCEEDED, SyncStatus.PARTIAL], finished_at__isnull=False
        ).order_by("-finished_at")
        for pk, status, reasons in recent.values_list("pk", "status", "skip_reasons")[:RECENT_COMPLETED]:
            if status == SyncStatus.SUCCEEDED or all(r.startswith(ITEM_SKIP_PREFIXES) for r in reasons or {}):
                return self.get(pk=pk)
        return None


class SyncTrigger(models.TextChoices):
    """Who or what started a run."""

    ADMIN = "admin", _("admin")
    COMMAND = "command", _("command")
    SCHEDULE = "schedule", _("schedule")
    WEBHOOK = "webhook", _("webhook")


class SyncRunCounters(models.Model):
    """What a run did to each synced model: ``<model>_<outcome>`` for every model and outcome."""

    rooms_created = models.PositiveIntegerField(default=0)
    rooms_updated = models.PositiveIntegerField(default=0)
    rooms_unchanged = models.PositiveIntegerField(default=0)
    rooms_skipped = models.PositiveIntegerField(default=0)
    sessions_created = models.PositiveIntegerField(default=0)
    sessions_updated = models.PositiveIntegerField(default=0)
    sessions_unchanged = models.PositiveIntegerField(default=0)
    sessions_skipped = models.PositiveIntegerField(default=0)
    participants_created = models.PositiveIntegerField(default=0)
    participants_updated = models.PositiveIntegerField(default=0)
    participants_unchanged = models.PositiveIntegerField(default=0)
    participants_skipped = models.PositiveIntegerField(default=0)
    details_created = models.PositiveIntegerField(default=0)
    details_updated = models.PositiveIntegerField(default=0)
    details_unchanged = models.PositiveIntegerField(default=0)
    details_skipped = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class SyncRun(SyncRunCounters):
    """One sync, written by the job (or command) that runs it and read by the admin."""

    kind = models.CharField(_("kind"), max_length=16, choices=SyncKind.choices, default=SyncKind.INCREMENTAL)
    scope = models.JSONField(_("scope"), default=dict, blank=True)
    # Same value for the same scope: the unique constraint below allows one active run per scope.
    dedup_key = models.CharField(_("deduplication key"), max_length=255, db_index=True)
    details_policy = models.CharField(_("detail policy"), max_length=8, blank=True, default="")
    status = models.CharField(
        _("status"), max_length=16, choices=SyncStatus.choices, default=SyncStatus.QUEUED
    )
    trigger = models.CharField(_("trigger"), max_length=16, choices=SyncTrigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    job_id = models.CharField(_("job id"), max_length=255, blank=True, default="")
    # The RQ jobs of a fan-out (batches, then the closing job); diagnostics stay in ``checkpoint``.
    batch_job_ids = models.JSONField(_("fan-out job ids"), default=list, blank=True)

    queued_at = models.DateTimeField(_("queued"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last sign of life"), null=True, blank=True)
    cancel_requested = models.BooleanField(_("cancel requested"), default=False)
    # Who asked the run to stop, and from where ("alice from the admin", "ops from web1 (insights_sync
    # --cancel)"), so the process running it can say so; the time is the database's.
    cancel_requested_by = models.CharField(_("cancel requested by"), max_length=255, blank=True, default="")
    cancel_requested_at = models.DateTimeField(_("cancel requested at"), null=True, blank=True)

    api_requests = models.PositiveIntegerField(_("API requests"), default=0)
    # What the API charged, read from the rate headers; of it, the points valued at an estimate (the
    # limiter or a cost not known for good when the run last wrote them); and what the budget reserved
    # against our share (the most a call may cost until its cost is known), apart.
    api_points = models.PositiveIntegerField(_("API points charged"), default=0)
    api_points_estimated = models.PositiveIntegerField(_("of them estimated"), default=0)
    api_points_reserved = models.PositiveIntegerField(_("API points reserved"), default=0)
    api_throttles = models.PositiveIntegerField(_("throttled responses"), default=0)
    api_retries = models.PositiveIntegerField(_("retries"), default=0)
    api_bytes = models.BigIntegerField(_("bytes received"), default=0)

    skip_reasons = models.JSONField(_("skip reasons"), default=dict, blank=True)
    progress_done = models.PositiveIntegerField(_("progress done"), default=0)
    progress_total = models.PositiveIntegerField(_("progress total"), default=0)
    error = models.TextField(_("error"), blank=True, default="")
    checkpoint = models.JSONField(_("checkpoint"), default=dict, blank=True)

    objects = SyncRunQuerySet.as_manager()

    class Meta:
        verbose_name = _("sync run")
        verbose_name_plural = _("sync runs")
        ordering = ["-queued_at"]
        permissions = [
            ("run_sync", _("Can start and cancel Whereby Insights syncs")),
            ("view_reports", _("Can view Whereby Insights reports")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["dedup_key"],
                condition=Q(status__in=["queued", "running"]),
                name="insights_one_active_run_per_scope",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "queued_at"], name="insights_run_status"),
            models.Index(fields=["-finished_at"], name="insights_run_finished"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        """True while queued or running."""
        return self.status in ACTIVE_STATUSES

    def counts(self) -> dict[str, dict[str, int]]:
        """Counters as ``{"rooms": {"created": n, ...}, ...}``."""
        return {
            model: {kind: getattr(self, f"{model}_{kind}") for kind in COUNT_KINDS} for model in SYNCED_MODELS
        }

    def job_ids(self) -> list[str]:
        """Every RQ job of this run: its own, then those of a fan-out."""
        return [self.job_id, *self.batch_job_ids] if self.job_id else []

    # Transitions: each a guarded UPDATE of this row, then the instance refreshed where callers read it.

    def _this(self) -> SyncRunQuerySet:
        return SyncRun.objects.filter(pk=self.pk)

    def assign_job(self, job_id: str) -> None:
        """Record the RQ job that will run this run."""
        self.job_id = job_id
        self._this().update(job_id=job_id)

    def record_batch_jobs(self, job_ids: list[str]) -> None:
        """Record the jobs of a fan-out, so a run waiting for any of them is seen as alive."""
        self.batch_job_ids = list(job_ids)
        self._this().update(batch_job_ids=self.batch_job_ids)

    def mark_running(self) -> bool:
        """Queued (or retried) to running, unless it was cancelled, reaped or closed meanwhile.

        Clears the "retrying after" note of a previous attempt; False when the run may not start.
        """
        # Heartbeats use the database's clock: other processes, on other hosts, judge them (sync/clock.py).
        started = (
            self._this()
            .active()
            .filter(cancel_requested=False)
            .update(
                status=SyncStatus.RUNNING,
                started_at=self.started_at or timezone.now(),
                heartbeat_at=Now(),
                error="",
            )
        )
        self.refresh_from_db()
        return bool(started)

    def heartbeat(self) -> None:
        """Mark the run alive now."""
        self._this().heartbeat()

    def add_counts(self, increments: Mapping[str, int]) -> None:
        """Add to counter columns (atomically, for jobs sharing the run) and beat the heartbeat."""
        fields: dict[str, Any] = {column: F(column) + n for column, n in increments.items() if n}
        self._this().update(**fields, heartbeat_at=Now())

    def restart_progress(self, total: int) -> None:
        """Set, not add: a retried job plans its work again."""
        self.progress_total, self.progress_done = total, 0
        self._this().update(progress_total=total, progress_done=0)

    def merge_checkpoint(self, **values: Any) -> None:
        """Merge diagnostics and resume marks into the checkpoint, under a row lock."""
        with transaction.atomic():
            current = SyncRun.objects.select_for_update().only("checkpoint").get(pk=self.pk)
            self.checkpoint = {**(current.checkpoint or {}), **values}
            self._this().update(checkpoint=self.checkpoint)

    def merge_skip_reasons(self, reasons: Counter[str]) -> None:
        """Add skip reasons; several batch jobs may merge at once, so the row is locked meanwhile."""
        with transaction.atomic():
            current = SyncRun.objects.select_for_update().only("skip_reasons").get(pk=self.pk)
            merged = Counter(current.skip_reasons or {})
            merged.update(reasons)
            self._this().update(skip_reasons=dict(merged.most_common(MAX_SKIP_REASONS)))

    def cancel_was_requested(self) -> bool:
        """Whether someone asked this run to stop (read from the database, not the instance)."""
        return self._this().filter(cancel_requested=True).exists()

    def request_cancel(self, by: str = "") -> None:
        """Queued runs are cancelled now; running ones are asked to stop at their next page.

        ``by`` says who asked, and from where; the first request of a run is the one kept.
        """
        asked = {"cancel_requested_by": by[:255], "cancel_requested_at": Now()}
        self._this().filter(status=SyncStatus.QUEUED).update(
            status=SyncStatus.CANCELLED, cancel_requested=True, finished_at=timezone.now(), **asked
        )
        self._this().filter(status=SyncStatus.RUNNING, cancel_requested=False).update(
            cancel_requested=True, **asked
        )
        self.refresh_from_db()

    def requeue_for_retry(self, error: str) -> None:
        """Back to queued with the reason, for the job's RQ retry to resume it."""
        self._this().active().update(status=SyncStatus.QUEUED, error=f"retrying after: {error}")

    def close(self, status: str, *, error: str = "") -> None:
        """End an active run with ``status`` (a finished run stays as it is)."""
        fields: dict[str, Any] = {"status": status, "finished_at": timezone.now()}
        if error:
            fields["error"] = error
        self._this().active().update(**fields)
        self.refresh_from_db()

    def fail_abandoned(self, reason: str, *, now: datetime) -> int:
        """Fail a run found abandoned, unless its status moved since it was read (1 if it was failed)."""
        return (
            self._this()
            .filter(status=self.status)
            .update(status=SyncStatus.FAILED, finished_at=now, error=reason)
        )
