"""The sync dashboard and the reports as rows of the app's block on the admin index.

Django-rq's way: each row is an unmanaged model without a table (``models.admin_entries``). The
dashboard row's changelist URL is the dashboard itself (mounted by ``SyncRunAdmin``); a report row's
changelist redirects to the report. A site with its own ``AdminSite`` registers these admins like
the others (see docs/admin.md).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, path

from .. import models as m
from .base import VIEW_REPORTS_PERM, ViewOnlyAdmin, can_run_sync
from .links import report_url


class EntryAdmin(ViewOnlyAdmin):
    """A row that is a page, not a table: only its changelist URL exists, nothing is ever changed."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def get_urls(self) -> list[URLPattern]:
        # Only the changelist: the object views would query a table that does not exist.
        opts = self.model._meta
        name = f"{opts.app_label}_{opts.model_name}_changelist"
        return [path("", self.admin_site.admin_view(self.changelist_view), name=name)]


@admin.register(m.SyncDashboard)
class SyncDashboardAdmin(EntryAdmin):
    """The dashboard's row, for users who may see sync runs (or start syncs), as the page itself."""

    def sync_run_admin(self) -> admin.ModelAdmin | None:
        """The site's admin of ``SyncRun``, whose permissions and URLs the dashboard shares."""
        return self.admin_site._registry.get(m.SyncRun)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        runs = self.sync_run_admin()
        return runs is not None and (runs.has_view_permission(request) or can_run_sync(request))

    def get_urls(self) -> list[URLPattern]:
        # The page lives with the sync runs' admin (``dashboard/``, beside its status, start and
        # cancel views), which also gives it this row's changelist URL name.
        return []


class ReportEntryAdmin(EntryAdmin):
    """A report's row: shown with ``view_reports`` while the reports are mounted; it redirects there."""

    report = ""  # the report's URL name in insights_app.urls

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.has_perm(VIEW_REPORTS_PERM) and report_url(self.report) is not None

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        url = report_url(self.report)
        if url is None or not self.has_view_permission(request):
            raise PermissionDenied
        return redirect(url)


@admin.register(m.OverviewReport)
class OverviewReportAdmin(ReportEntryAdmin):
    report = "overview"


@admin.register(m.QualityReport)
class QualityReportAdmin(ReportEntryAdmin):
    report = "quality"


@admin.register(m.PeopleReport)
class PeopleReportAdmin(ReportEntryAdmin):
    report = "people"
