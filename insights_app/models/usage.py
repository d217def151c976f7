"""The usage totals the API reports for rooms and sessions alike."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class UsageTotals(models.Model):
    """Minutes, unique counts and (beta) ratings; each column is its API field in snake_case."""

    total_participant_minutes = models.FloatField(_("participant minutes"), null=True, blank=True)
    total_recorder_minutes = models.FloatField(_("recorder minutes"), null=True, blank=True)
    total_streamer_minutes = models.FloatField(_("streamer minutes"), null=True, blank=True)
    total_unique_participants = models.FloatField(_("unique participants"), null=True, blank=True)
    total_unique_recorders = models.FloatField(_("unique recorders"), null=True, blank=True)
    total_unique_streamers = models.FloatField(_("unique streamers"), null=True, blank=True)
    rating = models.FloatField(_("rating"), null=True, blank=True)
    total_ratings = models.FloatField(_("ratings"), null=True, blank=True)

    class Meta:
        abstract = True

    @classmethod
    def total_columns(cls) -> tuple[str, ...]:
        """The names of the shared total columns, in declaration order."""
        return tuple(f.name for f in UsageTotals._meta.get_fields())
