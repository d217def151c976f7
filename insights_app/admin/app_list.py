"""Adds the sync dashboard and the reports to the app's block on the admin index and sidebar."""

from __future__ import annotations

import types
from typing import Any

from django.contrib.admin import AdminSite
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from .base import VIEW_REPORTS_PERM, can_run_sync
from .links import report_url

APP_LABEL = "insights_app"

# (URL name in insights_app.urls, label) of the reports listed in the admin.
REPORTS = (
    ("overview", _("Report: overview")),
    ("quality", _("Report: network quality")),
    ("people", _("Report: people")),
)


def _entry(name: Any, object_name: str, url: str) -> dict[str, Any]:
    """A row shaped like the admin's model rows, so ``app_list.html`` renders it natively."""
    return {
        "name": name,
        "object_name": object_name,
        "perms": {"add": False, "change": False, "delete": False, "view": True},
        "admin_url": url,
        "add_url": None,
        "view_only": True,
    }


def extra_entries(site: AdminSite, request: HttpRequest) -> list[dict[str, Any]]:
    """The dashboard (for users who may see sync runs) and the reports (with ``view_reports``)."""
    from ..models import SyncRun

    entries = []
    model_admin = site._registry.get(SyncRun)
    if model_admin is not None and (model_admin.has_view_permission(request) or can_run_sync(request)):
        try:
            url = reverse(f"{site.name}:insights_app_syncrun_dashboard")
        except NoReverseMatch:
            url = None
        if url:
            entries.append(_entry(_("Sync dashboard"), "SyncDashboard", url))
    if request.user.has_perm(VIEW_REPORTS_PERM):
        for name, label in REPORTS:
            url = report_url(name)
            if url:
                entries.append(_entry(label, f"Report_{name}", url))
    return entries


def install(site: AdminSite) -> None:
    """Wrap ``site.get_app_list`` so the app's block also lists the dashboard and the reports.

    A host site with its own ``AdminSite`` calls this once after registering our admins there.
    """
    if getattr(site, "_insights_app_list_installed", False):
        return
    original = site.get_app_list

    def get_app_list(self: AdminSite, request: HttpRequest, app_label: str | None = None) -> list:
        app_list = original(request, app_label)
        if app_label not in (None, APP_LABEL):
            return app_list
        for app in app_list:
            if app["app_label"] == APP_LABEL:
                app["models"].extend(extra_entries(self, request))
                break
        else:
            entries = extra_entries(self, request)
            if entries:
                app_list.append(
                    {
                        "name": _("Whereby Insights"),
                        "app_label": APP_LABEL,
                        "app_url": entries[0]["admin_url"],
                        "has_module_perms": True,
                        "models": entries,
                    }
                )
        return app_list

    site.get_app_list = types.MethodType(get_app_list, site)
    site._insights_app_list_installed = True
