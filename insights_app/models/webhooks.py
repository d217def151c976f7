"""Webhook deliveries as received, rejected-delivery counts, and live presence (beside the synced tables)."""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils.translation import gettext_lazy as _

from ..conf import get_settings
from .clock import db_now

# Deliveries seen this recently show the endpoint is reached; events stuck longer than the grace
# (pending or failed) show the processing is not keeping up.
SEEN_WITHIN = timedelta(days=1)
STUCK_AFTER = timedelta(minutes=10)
# A room counted as occupied this long ago without any event since is read again by the safety net.
OCCUPIED_TRUSTED_FOR = timedelta(hours=12)
# Whereby's endedAt and the session.ended event's createdAt are not the same instant to the millisecond.
ENDED_MATCH = timedelta(minutes=2)
# How long the webhooks' catch-up follows a session end (webhooks.catchup); the safety net reads the
# room after that, and leaves it to the catch-up before.
FOLLOWED_FOR = timedelta(minutes=60)


class WebhookOutcome(models.TextChoices):
    """What processing made of a stored event."""

    PENDING = "pending", _("pending")
    PROCESSED = "processed", _("processed")
    IGNORED = "ignored", _("ignored (type not used)")
    FAILED = "failed", _("failed")


class WebhookEventQuerySet(models.QuerySet):
    """Events, and what they say about whether webhooks are working."""

    def healthy(self) -> bool:
        """True when a secret is set, a delivery arrived in the last day and none of that day's is stuck.

        Then a room merely active (a session in progress or just ended) with unchanged totals needs no
        scheduled re-read: its ``room.session.ended`` schedules its sync. A room whose totals changed is
        re-read whatever this says, so a lost delivery is still caught by the next scheduled sync.
        """
        secret = get_settings().WEBHOOK_SECRET
        if not (isinstance(secret, str) and secret.strip()):
            return False
        now = db_now()
        recent = self.filter(received_at__gte=now - SEEN_WITHIN)
        if not recent.exists():
            return False
        stuck = recent.filter(
            outcome__in=(WebhookOutcome.PENDING, WebhookOutcome.FAILED), received_at__lt=now - STUCK_AFTER
        )
        return not stuck.exists()

    def ended_sessions_missing(
        self, older_than: timedelta, younger_than: timedelta = SEEN_WITHIN
    ) -> WebhookEventQuerySet:
        """``room.session.ended`` events older than ``older_than`` and younger than ``younger_than`` (a
        day), whose session is not stored as ended (matched by room and end time: the event carries no
        session id)."""
        from .room_session import RoomSession

        now = db_now()
        match = models.Value(ENDED_MATCH, output_field=models.DurationField())
        stored = RoomSession.objects.filter(
            room__room_name=models.OuterRef("room_name"),
            ended_at__gte=models.OuterRef("created_at") - match,
            ended_at__lte=models.OuterRef("created_at") + match,
        )
        return (
            self.filter(
                type="room.session.ended",
                created_at__gte=now - min(younger_than, SEEN_WITHIN),
                created_at__lte=now - older_than,
            )
            .exclude(room_name="")
            .filter(~models.Exists(stored))
        )


class LiveRoomQuerySet(models.QuerySet):
    """Rooms as webhooks last counted them."""

    def occupied_now(self) -> LiveRoomQuerySet:
        """Rooms that webhooks say have people in them now (an event in the last 12 hours).

        Their totals grow while the call goes on; the sync their session end schedules reads them.
        """
        return self.filter(num_clients__gt=0, counted_at__gte=db_now() - OCCUPIED_TRUSTED_FOR)


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

    objects = WebhookEventQuerySet.as_manager()

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

    objects = LiveRoomQuerySet.as_manager()

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
