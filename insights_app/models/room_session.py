"""One session (a continuous meeting) in a room."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from .base import SyncedModel, from_api
from .usage import UsageTotals


class RoomSession(SyncedModel, UsageTotals):
    """One item of ``/insights/room-sessions``."""

    room = models.ForeignKey("insights_app.Room", on_delete=models.CASCADE, related_name="sessions")
    room_session_id = from_api(models.CharField(_("session id"), max_length=255, unique=True), identity=True)
    room_name = from_api(models.CharField(_("room name"), max_length=512, blank=True, default=""))
    started_at = from_api(models.DateTimeField(_("started"), null=True, blank=True))
    ended_at = from_api(
        models.DateTimeField(_("ended"), null=True, blank=True, help_text=_("Empty while ongoing."))
    )

    # Computed at sync time so reports aggregate without database-specific date arithmetic.
    duration_seconds = models.FloatField(_("duration (s)"), null=True, blank=True)
    participants_synced_signature = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        verbose_name = _("room session")
        verbose_name_plural = _("room sessions")
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["started_at"], name="insights_session_started"),
            models.Index(fields=["room", "started_at"], name="insights_session_room_start"),
            models.Index(fields=["ended_at"], name="insights_session_ended"),
            models.Index(fields=["rating"], name="insights_session_rating"),
        ]

    def __str__(self) -> str:
        return f"{self.room_name} {self.room_session_id}"

    @property
    def is_ongoing(self) -> bool:
        """True while the API reports no end time."""
        return self.ended_at is None
