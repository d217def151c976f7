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
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext_lazy as _
from django.views import View

from ...display.numbers import format_int
from ...rollups.stale import raw_note, reset_note
from ..assets import plotly_version
from ..csv_export import csv_response
from ..filters import TEXT_FILTERS, ReportFilters
from ..freshness import freshness
from ..periods import MAX_DAY, MIN_DAY, PRESETS
from ..tables import Table
from .awaited import awaited_run_url

PERMISSION = "insights_app.view_reports"
RUN_SYNC = "insights_app.run_sync"


def can_view_reports(user: Any) -> bool:
    """Staff with ``view_reports``: the reports live in the admin's frame, behind its login."""
    return bool(user.is_active and user.is_staff and user.has_perm(PERMISSION))


def can_fetch_samples(user: Any) -> bool:
    """A report reader who may also start syncs."""
    return can_view_reports(user) and user.has_perm(RUN_SYNC)


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
    extra_filters: tuple[str, ...] = ()  # more text filters of TEXT_FILTERS this page offers

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """Anonymous people go to the admin login; others need staff and the permission (else 403).

        Every answer may carry personal data, so none may be kept by a shared cache.
        """
        response: HttpResponseBase
        if not request.user.is_authenticated:
            response = redirect_to_login(request.get_full_path(), reverse("admin:login"))
        elif not can_view_reports(request.user):
            raise PermissionDenied
        else:
            response = super().dispatch(request, *args, **kwargs)
        patch_cache_control(response, private=True)
        return response

    def offered(self) -> tuple[str, ...]:
        """The query-string filters this page reads."""
        names = (("period", "start", "end") if self.period_filter else ()) + self.extra_filters
        return names + (("room",) if self.room_filter else ())

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """Render the page, the empty state, or one of its tables as CSV (``?csv=<table>``)."""
        reset_note()
        # The freshness line's statement also says whether any session is stored (one query for both).
        self.freshness = freshness()
        if not self.freshness.any_data:
            return self.render_page(request, "insights_app/reports/empty.html", {"title": _("No data yet")})
        self.now = timezone.now()
        self.filters = ReportFilters.from_request(request, self.offered(), self.now)
        if self.filters.errors:
            return self.invalid(request)
        context = self.build(request, *args, **kwargs)
        tables = {t.name: t for t in context.get("tables", [])}
        wanted = request.GET.get("csv")
        if wanted:
            if wanted not in tables:
                raise Http404("no such table")
            return csv_response(tables[wanted], self.csv_stem(context.get("stem", self.stem)))
        for table in tables.values():
            table.csv_url = "?" + self.filters.querystring(
                csv=table.name, page="", sort=request.GET.get("sort", "")
            )
        return self.render_page(request, self.template_name, context)

    def csv_stem(self, stem: str) -> str:
        """The download's name says what it holds: the page (and person) and, with a date range, its days."""
        if not self.period_filter:
            return stem
        period = self.filters.period
        return f"{stem}-{period.first_day.isoformat()}-to-{period.last_day.isoformat()}"

    def invalid(self, request: HttpRequest) -> HttpResponse:
        """The filter form with what is wrong, the user's values kept, and no report (400)."""
        if request.GET.get("csv"):
            body = "\n".join(self.filters.errors)
            return HttpResponse(body, status=400, content_type="text/plain; charset=utf-8")
        context = {"title": self.title or _("Report"), "filter_errors": self.filters.errors}
        response = self.render_page(request, "insights_app/reports/invalid.html", context)
        response.status_code = 400
        return response

    def build(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The page's context; subclasses override."""
        raise NotImplementedError

    def render_page(self, request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
        """Render inside the admin's frame (header, breadcrumbs, dark mode)."""
        context.setdefault("title", self.title)
        filters = getattr(self, "filters", None)
        options = context.get("filter_options", {})
        text_filters = [
            {
                "name": name,
                "label": TEXT_FILTERS[name],
                "value": filters.text(name) if filters else "",
                "options": options.get(name, []),
            }
            for name in self.extra_filters
        ]
        full = {
            **admin.site.each_context(request),
            "filters": filters,
            "show_filters": self.period_filter,
            "show_filter_form": self.period_filter or self.room_filter or bool(self.extra_filters),
            "presets": PRESETS.items(),
            "show_room_filter": self.room_filter,
            "text_filters": text_filters,
            "min_day": MIN_DAY.isoformat(),
            "max_day": MAX_DAY.isoformat(),
            "freshness": getattr(self, "freshness", None) or freshness(),
            "time_zone": timezone.get_current_timezone_name(),
            "rollup_stale_days": raw_note(),
            "can_fetch_samples": can_fetch_samples(request.user),
            "reports_home": reverse("insights_app:overview"),
            "app_url": safe_reverse("admin:app_list", app_label="insights_app"),
            "sync_dashboard_url": safe_reverse("admin:insights_app_syncrun_dashboard"),
            "nav": nav_links(),
            "plotly_url": reverse("insights_app:plotly_js", args=[plotly_version()]),
            "awaited_run_url": awaited_run_url(request),
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
    result.page_count_text = format_int(page.paginator.count)
    return result


def sort_links(
    sorts: dict[str, tuple[Any, ...]], labels: dict[str, Any], current: str
) -> list[tuple[str, Any, bool]]:
    """``(key, human label, active)`` for each sort a table offers."""
    return [(key, labels[key], key == current) for key in sorts]
