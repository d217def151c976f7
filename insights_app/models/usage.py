"""The usage totals the API reports for rooms and sessions alike."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from .base import from_api


class UsageTotals(models.Model):
    """Minutes, unique counts and (beta) ratings; each column is its API field in snake_case."""

    total_participant_minutes = from_api(models.FloatField(_("participant minutes"), null=True, blank=True))
    total_recorder_minutes = from_api(models.FloatField(_("recorder minutes"), null=True, blank=True))
    total_streamer_minutes = from_api(models.FloatField(_("streamer minutes"), null=True, blank=True))
    total_unique_participants = from_api(models.FloatField(_("unique participants"), null=True, blank=True))
    total_unique_recorders = from_api(models.FloatField(_("unique recorders"), null=True, blank=True))
    total_unique_streamers = from_api(models.FloatField(_("unique streamers"), null=True, blank=True))
    rating = from_api(models.FloatField(_("rating"), null=True, blank=True))
    total_ratings = from_api(models.FloatField(_("ratings"), null=True, blank=True))

    class Meta:
        abstract = True

    @classmethod
    def total_columns(cls) -> tuple[str, ...]:
        """The names of the shared total columns, in declaration order."""
        return tuple(f.name for f in UsageTotals._meta.get_fields())
