"""Webhook deliveries as received, rejected-delivery counts, and live presence (beside the synced tables)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class WebhookOutcome(models.TextChoices):
    """What processing made of a stored event."""

    PENDING = "pending", _("pending")
    PROCESSED = "processed", _("processed")
    IGNORED = "ignored", _("ignored (type not used)")
    FAILED = "failed", _("failed")


class WebhookEvent(models.Model):
    """One verified Whereby webhook event, stored once per event id before any work is done."""

    event_id = models.CharField(_("event id"), max_length=255, unique=True)
    type = models.CharField(_("type"), max_length=64, db_index=True)
    api_version = models.CharField(_("API version"), max_length=32, blank=True, default="")
    created_at = models.DateTimeField(_("created (by Whereby)"), null=True, blank=True, db_index=True)
    received_at = models.DateTimeField(_("received"), db_index=True)
    room_name = models.CharField(_("room name"), max_length=512, blank=True, default="")
    room_session_id = models.CharField(_("room session id"), max_length=255, blank=True, default="")
    participant_id = models.CharField(_("participant id"), max_length=255, blank=True, default="")
    raw = models.JSONField(_("raw payload"), default=dict, blank=True)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)
    outcome = models.CharField(
        _("outcome"),
        max_length=16,
        choices=WebhookOutcome.choices,
        default=WebhookOutcome.PENDING,
        db_index=True,
    )
    detail = models.TextField(_("what processing did"), blank=True, default="")

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ("-received_at",)

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class WebhookRejection(models.Model):
    """How many deliveries were refused, per day and reason; the deliveries themselves are not kept."""

    day = models.DateField(_("day"))
    reason = models.CharField(_("reason"), max_length=32)
    count = models.PositiveIntegerField(_("deliveries"), default=0)
    last_at = models.DateTimeField(_("last"), null=True, blank=True)

    class Meta:
        verbose_name = _("rejected webhook delivery count")
        verbose_name_plural = _("rejected webhook delivery counts")
        constraints = [models.UniqueConstraint(fields=("day", "reason"), name="insights_webhook_reject_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.reason}: {self.count}"


class LiveRoom(models.Model):
    """A room's live state from webhooks: how many are in it and since when it is in session."""

    room_name = models.CharField(_("room name"), max_length=512, unique=True)
    num_clients = models.PositiveIntegerField(_("clients now"), default=0)
    num_clients_by_role_name = models.JSONField(_("clients by role"), default=dict, blank=True)
    # The createdAt of the event that set num_clients: an older event arriving late changes nothing.
    counted_at = models.DateTimeField(_("counted at"), null=True, blank=True)
    session_started_at = models.DateTimeField(_("session started"), null=True, blank=True)
    session_ended_at = models.DateTimeField(_("session ended"), null=True, blank=True)

    class Meta:
        verbose_name = _("live room")
        verbose_name_plural = _("live rooms")

    def __str__(self) -> str:
        return self.room_name


class LiveConnection(models.Model):
    """One connection seen by webhooks; present while joined and not left (order of arrival is irrelevant)."""

    participant_id = models.CharField(_("participant id"), max_length=255, unique=True)
    room_name = models.CharField(_("room name"), max_length=512, db_index=True)
    room_session_id = models.CharField(_("room session id"), max_length=255, blank=True, default="")
    display_name = models.CharField(_("display name"), max_length=512, blank=True, default="")
    external_id = models.CharField(_("external id"), max_length=255, blank=True, default="")
    role_name = models.CharField(_("role"), max_length=64, blank=True, default="")
    is_dial_in = models.BooleanField(_("dial-in"), default=False)
    joined_at = models.DateTimeField(_("joined"), null=True, blank=True)
    left_at = models.DateTimeField(_("left"), null=True, blank=True)

    class Meta:
        verbose_name = _("live connection")
        verbose_name_plural = _("live connections")
        indexes = [models.Index(fields=("room_name", "left_at"), name="insights_live_room_left")]

    def __str__(self) -> str:
        return f"{self.participant_id} in {self.room_name}"
