"""Columns every synced model shares: the payload as received and when we saw it."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class SyncedModel(models.Model):
    """An item copied from the Whereby API; typed columns live on the subclass."""

    raw = models.JSONField(_("raw payload"), default=dict, blank=True)
    first_seen_at = models.DateTimeField(_("first seen"), null=True, blank=True)
    synced_at = models.DateTimeField(_("last synced"), null=True, blank=True, db_index=True)

    class Meta:
        abstract = True
