"""A Whereby room and its lifetime totals."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from .base import SyncedModel, from_api
from .usage import UsageTotals


class Room(SyncedModel, UsageTotals):
    """One item of ``/insights/rooms``."""

    room_name = from_api(models.CharField(_("room name"), max_length=512, unique=True), identity=True)
    created_at = from_api(models.DateTimeField(_("created"), null=True, blank=True))
    end_at = from_api(models.DateTimeField(_("expires"), null=True, blank=True))
    first_session_started_at = from_api(
        models.DateTimeField(_("first session started"), null=True, blank=True)
    )
    last_session_started_at = from_api(models.DateTimeField(_("last session started"), null=True, blank=True))
    total_sessions = from_api(models.FloatField(_("sessions"), null=True, blank=True))

    # Bookkeeping: the room's fingerprint when its sessions were last fetched completely, so a
    # run that died half-way is finished by the next one instead of being skipped as unchanged.
    sessions_synced_signature = models.CharField(max_length=64, blank=True, default="")
    sessions_synced_at = models.DateTimeField(_("sessions last synced"), null=True, blank=True)
    full_synced_at = models.DateTimeField(_("last full pass"), null=True, blank=True)
    missing_since = models.DateTimeField(
        _("missing from the API since"),
        null=True,
        blank=True,
        help_text=_("Set when a complete room listing no longer contains this room; history is kept."),
    )

    class Meta:
        verbose_name = _("room")
        verbose_name_plural = _("rooms")
        ordering = ["room_name"]
        indexes = [
            models.Index(fields=["last_session_started_at"], name="insights_room_last_started"),
            models.Index(fields=["created_at"], name="insights_room_created"),
        ]

    def __str__(self) -> str:
        return self.room_name
