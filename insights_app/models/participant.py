"""One connection of a person to a session (a reconnect is a new participant id)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from ..display.names import real_name, shown_name
from .base import SyncedModel, from_api


class Participant(SyncedModel):
    """One item of ``/insights/participants``, plus a quality summary of its details."""

    room_session = from_api(
        models.ForeignKey("insights_app.RoomSession", on_delete=models.CASCADE, related_name="participants"),
        identity=True,
    )
    # Denormalised from the session so reports group connections by room without a join.
    room = models.ForeignKey(
        "insights_app.Room", on_delete=models.CASCADE, related_name="participants", null=True, blank=True
    )
    participant_id = from_api(models.CharField(_("participant id"), max_length=255), identity=True)
    device_id = from_api(models.CharField(_("device id"), max_length=255, null=True, blank=True))
    user_id = from_api(models.CharField(_("user id"), max_length=255, null=True, blank=True))
    role_name = from_api(models.CharField(_("role"), max_length=64, null=True, blank=True))
    display_name = from_api(models.TextField(_("display name"), null=True, blank=True))
    joined_at = from_api(models.DateTimeField(_("joined"), null=True, blank=True))
    left_at = from_api(
        models.DateTimeField(_("left"), null=True, blank=True, help_text=_("Empty while connected."))
    )
    external_id = from_api(models.CharField(_("external id"), max_length=255, null=True, blank=True))
    rating = from_api(models.FloatField(_("rating"), null=True, blank=True))
    tags = from_api(models.JSONField(_("tags"), null=True, blank=True))
    comment = from_api(models.TextField(_("comment"), null=True, blank=True))

    duration_seconds = models.FloatField(_("duration (s)"), null=True, blank=True)
    # Who this connection is, for counting people: the first of externalId, userId, deviceId,
    # participantId that the API gave. Reconnects of one person share it.
    identity = models.CharField(_("person"), max_length=255, blank=True, default="")
    details_synced_at = models.DateTimeField(_("details synced"), null=True, blank=True)
    # Set once retention or an erasure replaced this connection's personal fields by pseudonyms
    # (insights_app.privacy); a later sync keeps them so.
    pseudonymised_at = models.DateTimeField(_("personal data removed"), null=True, blank=True)

    # Summary of this connection's ParticipantDetail rows, kept here so the admin and the
    # reports filter and group connections without joining the (large) details table.
    quality_degraded = models.BooleanField(_("poor network"), null=True, blank=True)
    degraded_seconds = models.FloatField(_("seconds at or above the loss threshold"), null=True, blank=True)
    max_packet_loss = models.FloatField(_("max packet loss (%)"), null=True, blank=True)
    avg_packet_loss = models.FloatField(_("average packet loss (%)"), null=True, blank=True)
    browser = models.CharField(_("browser"), max_length=64, blank=True, default="")
    os = models.CharField(_("operating system"), max_length=64, blank=True, default="")
    device = models.CharField(_("device"), max_length=64, blank=True, default="")

    class Meta:
        verbose_name = _("participant")
        verbose_name_plural = _("participants")
        ordering = ["-joined_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["room_session", "participant_id"], name="insights_participant_identity"
            ),
        ]
        indexes = [
            # Holds identity too, so counting distinct people in a date range reads only the index
            # (a composite key rather than INCLUDE, which SQLite host sites would warn about).
            models.Index(fields=["joined_at", "identity"], name="insights_part_joined"),
            # The room page's people-and-quality scan reads only these columns: an index-only scan.
            models.Index(
                fields=["room", "joined_at", "identity", "quality_degraded", "degraded_seconds"],
                name="insights_part_room_people",
            ),
            models.Index(fields=["room_session", "joined_at"], name="insights_part_session_joined"),
            models.Index(fields=["external_id", "joined_at"], name="insights_part_external"),
            models.Index(fields=["user_id"], name="insights_part_user"),
            models.Index(fields=["role_name"], name="insights_part_role"),
            models.Index(fields=["quality_degraded", "joined_at"], name="insights_part_quality"),
            models.Index(fields=["browser"], name="insights_part_browser"),
            models.Index(fields=["os"], name="insights_part_os"),
            models.Index(fields=["left_at"], name="insights_part_left"),
            # Only connections still holding personal data: retention finds its next batch here
            # without scanning the ones it already did.
            models.Index(
                fields=["joined_at"],
                condition=models.Q(pseudonymised_at__isnull=True),
                name="insights_part_personal",
            ),
        ]

    def __str__(self) -> str:
        return real_name(self.display_name) or f"{shown_name(self.display_name)} {self.participant_id}"
