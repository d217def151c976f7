"""The dashboard and the reports are admin rows of their own (unmanaged models), not a patched site."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.contrib.admin import AdminSite
from django.urls import include, path, reverse

from insights_app import models as m
from insights_app.admin.app_list import SyncDashboardAdmin
from insights_app.admin.sync_runs import SyncRunAdmin

pytestmark = pytest.mark.django_db

DASHBOARD = "admin:insights_app_syncrun_dashboard"

# A host site with its own AdminSite: it registers our admins like any others, and nothing else.
host_site = AdminSite(name="admin")
host_site.register(m.SyncRun, SyncRunAdmin)
host_site.register(m.SyncDashboard, SyncDashboardAdmin)
urlpatterns = [path("backoffice/", host_site.urls), path("insights/", include("insights_app.urls"))]


def dashboard_row(index_html: str) -> re.Match | None:
    """The "Sync dashboard" row of the app's block (the demo's page header links the page too)."""
    return re.search(
        rf'id="insights_app-syncdashboard">\s*<a href="{reverse(DASHBOARD)}"[^>]*>Sync dashboard<', index_html
    )


def test_the_default_admin_site_is_left_as_django_made_it(client, viewer):
    assert "get_app_list" not in vars(admin.site)
    assert not hasattr(admin.site, "_insights_app_list_installed")
    # The row is still there, linking the dashboard where it always was.
    client.force_login(viewer)
    assert reverse(DASHBOARD) == "/admin/insights_app/syncrun/dashboard/"
    assert dashboard_row(client.get(reverse("admin:index")).content.decode())


@pytest.mark.integration  # the dashboard reads the queue from Redis
def test_a_host_admin_site_lists_the_dashboard_by_registering_it(client, viewer, settings):
    settings.ROOT_URLCONF = __name__
    client.force_login(viewer)
    index = client.get(reverse("admin:index")).content.decode()
    assert reverse("admin:index") == "/backoffice/"
    assert dashboard_row(index)
    assert "Queued and running" in client.get(reverse(DASHBOARD)).content.decode()
