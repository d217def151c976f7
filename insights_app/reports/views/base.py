"""What every report page shares: permission, admin look, filters, empty state and CSV downloads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views import View

from ..assets import plotly_version
from ..csv_export import csv_response
from ..filters import ReportFilters
from ..periods import PRESETS
from ..queries.usage import has_any_data
from ..tables import Table

PERMISSION = "insights_app.view_reports"


def safe_reverse(name: str, *args: Any, **kwargs: Any) -> str:
    """A URL, or empty when the host site does not mount that view."""
    try:
        return reverse(name, args=args or None, kwargs=kwargs or None)
    except NoReverseMatch:
        return ""


class ReportView(View):
    """A report page: subclasses build ``context`` (charts, tables, kpis) in ``build``."""

    template_name = ""
    title: Any = ""
    stem = "report"
    room_filter = True
    period_filter = True

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Anonymous people go to the admin login; staff without the permission get 403."""
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Render the page, the empty state, or one of its tables as CSV (``?csv=<table>``)."""
        if not has_any_data():
            return self.render_page(request, "insights_app/reports/empty.html", {"title": _("No data yet")})
        self.now = timezone.now()
        self.filters = ReportFilters.from_request(request)
        if not self.room_filter:
            self.filters = ReportFilters(self.filters.period, "", {**self.filters.params, "room": ""})
        context = self.build(request, *args, **kwargs)
        tables = {t.name: t for t in context.get("tables", [])}
        wanted = request.GET.get("csv")
        if wanted:
            if wanted not in tables:
                raise Http404("no such table")
            return csv_response(tables[wanted], context.get("stem", self.stem))
        for table in tables.values():
            table.csv_url = "?" + self.filters.querystring(
                csv=table.name, page="", sort=request.GET.get("sort", "")
            )
        return self.render_page(request, self.template_name, context)

    def build(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The page's context; subclasses override."""
        raise NotImplementedError

    def render_page(self, request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
        """Render inside the admin's frame (header, breadcrumbs, dark mode)."""
        context.setdefault("title", self.title)
        full = {
            **admin.site.each_context(request),
            "filters": getattr(self, "filters", None),
            "show_filters": self.period_filter,
            "presets": PRESETS.items(),
            "show_room_filter": self.room_filter,
            "reports_home": reverse("insights_app:overview"),
            "app_url": safe_reverse("admin:app_list", app_label="insights_app"),
            "sync_dashboard_url": safe_reverse("admin:insights_app_syncrun_dashboard"),
            "nav": nav_links(),
            "plotly_url": reverse("insights_app:plotly_js", args=[plotly_version()]),
            **context,
        }
        return render(request, template, full)


def nav_links() -> list[tuple[Any, str]]:
    """The report pages reachable from every report."""
    return [
        (_("Overview"), reverse("insights_app:overview")),
        (_("Quality"), reverse("insights_app:quality")),
        (_("People"), reverse("insights_app:people")),
    ]


def elapsed_seconds(start: dt.datetime | None, end: dt.datetime | None, now: dt.datetime) -> float | None:
    """Seconds from start to end, or to now while still open."""
    if start is None:
        return None
    return max(((end or now) - start).total_seconds(), 0.0)


def paged_table(
    request: HttpRequest,
    listed: QuerySet,
    convert: Callable[[list[Any]], list[dict[str, Any]]],
    *,
    per_page: int,
    batch: int = 500,
    **table: Any,
) -> Table:
    """One page of ``listed`` for the HTML, every row of it streamed for the CSV.

    ``convert`` turns a list of query rows into table rows; it takes a list so that look-ups such
    as external-id labels are made once per page or batch, not once per row.
    """
    page = Paginator(listed, per_page).get_page(request.GET.get("page"))

    def every_row() -> Iterator[dict[str, Any]]:
        chunk: list[Any] = []
        for row in listed.iterator(chunk_size=2000):
            chunk.append(row)
            if len(chunk) == batch:
                yield from convert(chunk)
                chunk = []
        yield from convert(chunk)

    result = Table(rows=convert(list(page.object_list)), all_rows=every_row, **table)
    result.page = page
    return result
