"""An alert: one rule's finding about one subject, from first seen until resolved."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .clock import db_now


class AlertRule(models.TextChoices):
    """The conditions the app watches (see docs/alerts.md)."""

    STALE_DATA = "stale_data", _("stale data")
    FAILING_SYNCS = "failing_syncs", _("failing syncs")
    BUDGET_PRESSURE = "budget_pressure", _("budget pressure")
    QUALITY = "quality", _("network quality")
    WORKER_GONE = "worker_gone", _("worker gone")


class Alert(models.Model):
    """Open while its rule keeps finding the subject; the database allows one open alert per pair."""

    rule = models.CharField(_("rule"), max_length=32, choices=AlertRule.choices)
    # What the finding is about, stable across ticks: "org", "room:<pk>", "queue:<name>".
    subject = models.CharField(_("subject"), max_length=255)
    title = models.CharField(_("title"), max_length=300)
    message = models.TextField(_("message"), blank=True, default="")
    # Ids the admin turns into a link to the cause (run, room); never a secret.
    details = models.JSONField(_("details"), default=dict, blank=True)
    first_seen_at = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    notified_at = models.DateTimeField(_("notified"), null=True, blank=True)
    resolved_notified_at = models.DateTimeField(_("resolution notified"), null=True, blank=True)
    silenced_until = models.DateTimeField(_("silenced until"), null=True, blank=True)
    # Outcome per channel and event, e.g. {"webhook:raised": "failed after 4 attempts: HTTP 500"}.
    deliveries = models.JSONField(_("deliveries"), default=dict, blank=True)

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-last_seen_at"]
        permissions = [("silence_alert", _("Can silence Whereby Insights alerts"))]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "subject"],
                condition=Q(resolved_at__isnull=True),
                name="insights_one_open_alert",
            ),
        ]
        indexes = [
            models.Index(fields=["resolved_at", "-last_seen_at"], name="insights_alert_open"),
            models.Index(fields=["rule", "subject", "-first_seen_at"], name="insights_alert_subject"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        """True until the condition clears."""
        return self.resolved_at is None

    def is_silenced(self, now=None) -> bool:
        """True while someone silenced this alert from the admin."""
        return bool(self.silenced_until and self.silenced_until > (now or timezone.now()))


def silenced_now() -> models.ExpressionWrapper:
    """Whether an alert is silenced now by the database's clock (pages annotate it: one clock, no host's)."""
    return models.ExpressionWrapper(Q(silenced_until__gt=db_now()), output_field=models.BooleanField())
