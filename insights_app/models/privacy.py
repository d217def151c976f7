"""Privacy bookkeeping: tombstones of forgotten people and the audit of retention and erasure."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class CriterionKind(models.TextChoices):
    """Which field an erasure request names."""

    EXTERNAL_ID = "external_id", _("external id")
    USER_ID = "user_id", _("user id")
    DISPLAY_NAME = "display_name", _("display name")


class PersonTombstone(models.Model):
    """A forgotten person, as a keyed hash of the criterion: the sync keeps them forgotten."""

    kind = models.CharField(_("criterion"), max_length=16, choices=CriterionKind.choices)
    criterion_hash = models.CharField(_("criterion hash"), max_length=64)
    mode = models.CharField(_("mode"), max_length=16)
    created_at = models.DateTimeField(_("forgotten at"))

    class Meta:
        verbose_name = _("forgotten person")
        verbose_name_plural = _("forgotten people")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "criterion_hash"], name="insights_tombstone_criterion"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.criterion_hash[:12]}…"


class PrivacyAction(models.TextChoices):
    """What an audit row records."""

    RETENTION = "retention", _("retention batch")
    ERASURE = "erasure", _("erasure")


class PrivacyAudit(models.Model):
    """One retention batch or one erasure: who, when, which criterion (hashed) and how many rows."""

    action = models.CharField(_("action"), max_length=16, choices=PrivacyAction.choices)
    mode = models.CharField(_("mode"), max_length=16)
    at = models.DateTimeField(_("at"), db_index=True)
    trigger = models.CharField(_("trigger"), max_length=16)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    # Kept when the user account is deleted later.
    actor = models.CharField(_("who"), max_length=150, blank=True, default="")
    criterion_kind = models.CharField(_("criterion"), max_length=16, blank=True, default="")
    criterion_hash = models.CharField(_("criterion hash"), max_length=64, blank=True, default="")
    cutoff = models.DateTimeField(_("connections joined before"), null=True, blank=True)
    participants = models.PositiveIntegerField(_("connections"), default=0)
    details = models.PositiveIntegerField(_("detail rows"), default=0)
    other_rows = models.JSONField(_("other rows"), default=dict, blank=True)

    class Meta:
        verbose_name = _("privacy audit entry")
        verbose_name_plural = _("privacy audit")
        ordering = ["-at", "-pk"]
        permissions = [("forget_person", _("Can erase a person's personal data (Whereby Insights)"))]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.at:%Y-%m-%d %H:%M}"
