"""One item of a participant's network-quality detail array."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from .base import SyncedModel, from_api

# The interval between samples when an item does not say (the API's usual 2 s).
DEFAULT_SAMPLE_RATE_MS = 2000.0


class PacketLossUnit(models.TextChoices):
    """How the API expressed packet loss in this item before we normalised it to percent."""

    FRACTION = "fraction", _("fraction 0–1")
    PERCENT = "percent", _("percent 0–100")
    UNKNOWN = "", _("no loss values")


class ParticipantDetail(SyncedModel):
    """Samples (packet loss in percent, bitrate in bits/s) and a summary for reports.

    ``raw`` holds the item as received except ``samples``, which lives normalised in ``samples``
    (``packet_loss_unit`` says how to get the original values back).
    """

    participant = models.ForeignKey(
        "insights_app.Participant", on_delete=models.CASCADE, related_name="details"
    )
    position = models.PositiveIntegerField(_("position in the detail array"))
    display_name = from_api(models.TextField(_("display name"), null=True, blank=True))
    user_role = from_api(models.CharField(_("role"), max_length=64, null=True, blank=True))
    user_agent = from_api(models.TextField(_("user agent"), null=True, blank=True))
    time_stamp = from_api(models.DateTimeField(_("samples start"), null=True, blank=True))
    sample_rate_ms = from_api(models.FloatField(_("sample interval (ms)"), null=True, blank=True))
    samples = models.JSONField(_("samples"), default=dict, blank=True)
    events = from_api(models.JSONField(_("events"), null=True, blank=True))
    packet_loss_unit = models.CharField(
        _("packet loss unit as received"),
        max_length=8,
        choices=PacketLossUnit.choices,
        blank=True,
        default="",
    )

    sample_count = models.PositiveIntegerField(_("samples"), default=0)
    avg_packet_loss_send = models.FloatField(_("avg packet loss send (%)"), null=True, blank=True)
    max_packet_loss_send = models.FloatField(_("max packet loss send (%)"), null=True, blank=True)
    avg_packet_loss_recv = models.FloatField(_("avg packet loss recv (%)"), null=True, blank=True)
    max_packet_loss_recv = models.FloatField(_("max packet loss recv (%)"), null=True, blank=True)
    avg_bitrate_send = models.FloatField(_("avg bitrate send (bit/s)"), null=True, blank=True)
    avg_bitrate_recv = models.FloatField(_("avg bitrate recv (bit/s)"), null=True, blank=True)
    degraded_seconds = models.FloatField(_("seconds at or above the loss threshold"), null=True, blank=True)
    browser = models.CharField(_("browser"), max_length=64, blank=True, default="")
    browser_version = models.CharField(_("browser version"), max_length=32, blank=True, default="")
    os = models.CharField(_("operating system"), max_length=64, blank=True, default="")
    os_version = models.CharField(_("OS version"), max_length=32, blank=True, default="")
    device = models.CharField(_("device"), max_length=64, blank=True, default="")

    class Meta:
        verbose_name = _("participant detail")
        verbose_name_plural = _("participant details")
        ordering = ["participant", "position"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "position"], name="insights_detail_identity"),
        ]
        indexes = [
            models.Index(fields=["time_stamp"], name="insights_detail_time"),
        ]

    def __str__(self) -> str:
        return f"{self.participant_id} #{self.position}"
