"""Rows on the admin index that are pages, not tables: the sync dashboard and the reports.

Django-rq's way (its ``Dashboard``): unmanaged models without a table or permissions of their own,
so the admin lists them like any model; their admins (``admin/app_list.py``) show or redirect.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class AdminEntry(models.Model):
    """No table (``managed = False``), no add/change/delete/view permissions: never queried."""

    class Meta:
        abstract = True
        managed = False
        default_permissions = ()

    def __str__(self) -> str:
        return str(self._meta.verbose_name_plural)


class SyncDashboard(AdminEntry):
    """The sync dashboard's row; seeing it needs what seeing sync runs needs."""

    class Meta(AdminEntry.Meta):
        verbose_name_plural = _("Sync dashboard")


class OverviewReport(AdminEntry):
    """The overview report's row (``view_reports``)."""

    class Meta(AdminEntry.Meta):
        verbose_name_plural = _("Report: overview")


class QualityReport(AdminEntry):
    """The network-quality report's row (``view_reports``)."""

    class Meta(AdminEntry.Meta):
        verbose_name_plural = _("Report: network quality")


class PeopleReport(AdminEntry):
    """The people report's row (``view_reports``)."""

    class Meta(AdminEntry.Meta):
        verbose_name_plural = _("Report: people")
