"""One run of the sync: what was asked, by whom, how it went, and where to resume."""

from django.conf import settings
from django.db import models
from django.db.models import Q
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


class SyncTrigger(models.TextChoices):
    """Who or what started a run."""

    ADMIN = "admin", _("admin")
    COMMAND = "command", _("command")
    SCHEDULE = "schedule", _("schedule")


def _count_fields() -> dict[str, models.Field]:
    return {
        f"{model}_{kind}": models.PositiveIntegerField(default=0)
        for model in SYNCED_MODELS
        for kind in COUNT_KINDS
    }


class SyncRunBase(models.Model):
    """The counter columns, generated so every model and outcome has one (``rooms_created`` ...)."""

    locals().update(_count_fields())

    class Meta:
        abstract = True


class SyncRun(SyncRunBase):
    """One sync, written by the job (or command) that runs it and read by the admin."""

    kind = models.CharField(_("kind"), max_length=16, choices=SyncKind.choices, default=SyncKind.INCREMENTAL)
    scope = models.JSONField(_("scope"), default=dict, blank=True)
    # Same value for the same scope: the unique constraint below allows one active run per scope.
    dedup_key = models.CharField(max_length=255, db_index=True)
    details_policy = models.CharField(_("detail policy"), max_length=8, blank=True, default="")
    status = models.CharField(
        _("status"), max_length=16, choices=SyncStatus.choices, default=SyncStatus.QUEUED
    )
    trigger = models.CharField(_("trigger"), max_length=16, choices=SyncTrigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    job_id = models.CharField(_("job id"), max_length=255, blank=True, default="")

    queued_at = models.DateTimeField(_("queued"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last sign of life"), null=True, blank=True)
    cancel_requested = models.BooleanField(_("cancel requested"), default=False)

    api_requests = models.PositiveIntegerField(_("API requests"), default=0)
    api_points = models.PositiveIntegerField(_("API points"), default=0)
    api_throttles = models.PositiveIntegerField(_("throttled responses"), default=0)
    api_retries = models.PositiveIntegerField(_("retries"), default=0)
    api_bytes = models.BigIntegerField(_("bytes received"), default=0)

    skip_reasons = models.JSONField(_("skip reasons"), default=dict, blank=True)
    progress_done = models.PositiveIntegerField(_("progress done"), default=0)
    progress_total = models.PositiveIntegerField(_("progress total"), default=0)
    error = models.TextField(_("error"), blank=True, default="")
    checkpoint = models.JSONField(_("checkpoint"), default=dict, blank=True)

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
