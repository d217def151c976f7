"""The shared base of the data pages: read-only, bounded queries, links to the reports."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import reduce
from operator import or_
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.db.models import DateTimeField, Model, Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..display.times import local_datetime
from ..models import UsageTotals
from ..models.base import SyncedModel
from .date_hierarchy import date_hierarchy, validate_drill_down
from .formatting import FIELD_FORMATS, FIELD_LABELS
from .links import report_url
from .paginator import BoundedCountPaginator

RUN_SYNC_PERM = "insights_app.run_sync"
# A change-page field shown through a formatter is named ``<field>`` + this (see ``ReadOnlyAdmin``).
SHOWN_SUFFIX = "_shown"
VIEW_REPORTS_PERM = "insights_app.view_reports"


def totals_fieldset(*first: str, without: tuple[str, ...] = ()) -> tuple[Any, Any]:
    """The "Totals" section of a room or session page: ``first``, then the shared usage totals."""
    shown = tuple(column for column in UsageTotals.total_columns() if column not in without)
    return (_("Totals"), {"fields": (*first, *shown)})


def can_run_sync(request: HttpRequest) -> bool:
    """True when the user may start and cancel syncs."""
    return request.user.is_active and request.user.is_staff and request.user.has_perm(RUN_SYNC_PERM)


class InsightsChangeList(ChangeList):
    """Django's changelist, with the drill-down links our ``change_list.html`` reads."""

    def insights_date_hierarchy(self) -> dict[str, Any] | None:
        """Read by our change_list.html instead of Django's scanning ``{% date_hierarchy %}`` tag."""
        return date_hierarchy(self)


class ViewOnlyAdmin(admin.ModelAdmin):
    """Nobody adds, changes or deletes anything through this admin; instants and figures in the app's formats."""

    def field_formatters(self) -> dict[str, Any]:
        """Model fields the change page shows through a formatter: every instant, and FIELD_FORMATS."""
        fields = {f.name: f for f in self.model._meta.fields}
        shown: dict[str, Callable[[Any], str]] = {
            name: local_datetime for name, f in fields.items() if isinstance(f, DateTimeField)
        }
        shown.update({name: fmt for name, fmt in FIELD_FORMATS.items() if name in fields})
        return shown

    def get_fieldsets(self, request: HttpRequest, obj: Model | None = None) -> list:
        # Django would print these raw ("317.604", "1903463") or overflow moving year 9999 to the
        # site's zone; a display function per field (``__getattr__`` below) writes them our way.
        shown = self.field_formatters()

        def swap(name: Any) -> Any:
            if isinstance(name, list | tuple):
                return tuple(swap(n) for n in name)
            return f"{name}{SHOWN_SUFFIX}" if isinstance(name, str) and name in shown else name

        return [
            (title, {**options, "fields": tuple(swap(f) for f in options["fields"])})
            for title, options in super().get_fieldsets(request, obj)
        ]

    def __getattr__(self, name: str) -> Any:
        if name.endswith(SHOWN_SUFFIX) and not name.startswith("_"):
            field_name = name.removesuffix(SHOWN_SUFFIX)
            formatter = self.field_formatters().get(field_name)
            if formatter is not None:
                return _shown_field(self.model._meta.get_field(field_name), formatter)
        raise AttributeError(name)

    def get_list_display(self, request: HttpRequest) -> Any:
        # Django would write a listed instant in the locale's format ("Dec. 6, 2026, 8:39 a.m."); the
        # reports write "2026-12-06 08:39" in every language, in the site's zone.
        instants = self._instant_fields()
        return tuple(f"{n}{SHOWN_SUFFIX}" if n in instants else n for n in super().get_list_display(request))

    def get_list_display_links(self, request: HttpRequest, list_display: Any) -> Any:
        links = super().get_list_display_links(request, list_display)
        instants = self._instant_fields()
        return links if links is None else tuple(f"{n}{SHOWN_SUFFIX}" if n in instants else n for n in links)

    def _instant_fields(self) -> set[str]:
        return {f.name for f in self.model._meta.fields if isinstance(f, DateTimeField)}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class ReadOnlyAdmin(ViewOnlyAdmin):
    """Synced data is never added, edited or deleted here (the API is the source of truth).

    Deleting synced rows is never what a user wants (the next sync brings them back); erasing a
    person's data is the privacy flow's job. Changelists count at most a bounded number of rows.
    """

    paginator = BoundedCountPaginator
    show_full_result_count = False
    # Facet counts run one COUNT per filter choice over the whole table: never on these tables.
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    empty_value_display = "—"  # as every formatter writes "unknown"
    change_list_template = "insights_app/admin/change_list.html"
    change_form_template = "insights_app/admin/change_form.html"
    # (URL name in insights_app.urls, label) of the report matching a whole changelist.
    changelist_report: tuple[str, Any] | None = None

    # Indexed columns matched exactly (case-sensitive, so the index is used) before ``search_fields``:
    # a hit there is the answer, and the slow "contains" scan of a big table is skipped.
    exact_search_fields: tuple[str, ...] = ()

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip()
        if term and self.exact_search_fields:
            exact = queryset.filter(reduce(or_, (Q(**{field: term}) for field in self.exact_search_fields)))
            if exact.exists():
                return exact, False
        return super().get_search_results(request, queryset, search_term)

    def get_actions(self, request: HttpRequest, action_location: Any = None) -> dict[str, Any]:
        # Django offers "Delete selected" to anyone with the delete permission; nobody has it here,
        # and the action is dropped outright so a host site's grant cannot bring it back. Django 6.1
        # passes where the actions are shown (and warns about overrides that do not take it).
        if action_location is None:
            actions = super().get_actions(request)
        else:
            actions = super().get_actions(request, action_location=action_location)  # type: ignore[call-arg]
        actions.pop("delete_selected", None)
        return actions

    def has_run_sync_permission(self, request: HttpRequest) -> bool:
        """Used by ``@admin.action(permissions=["run_sync"])``."""
        return can_run_sync(request)

    def object_report_url(self, obj: Model) -> str | None:
        """The report page about one object, if the reports are mounted."""
        return None

    def _report_links(self, request: HttpRequest, obj: Model | None) -> list[tuple[str, Any]]:
        if not request.user.has_perm(VIEW_REPORTS_PERM):
            return []
        links = []
        if obj is not None:
            url = self.object_report_url(obj)
            if url:
                links.append((url, _("Report")))
        elif self.changelist_report:
            url = report_url(self.changelist_report[0])
            if url:
                links.append((url, self.changelist_report[1]))
        return links

    def get_changelist_instance(self, request: HttpRequest):
        # Refused values send the user to Django's "?e=1" page instead of answering 500: PostgreSQL
        # rejects a NUL in any text it is given (DataError), and a bad drill-down date breaks Django's.
        if any("\x00" in text for key, values in request.GET.lists() for text in (key, *values)):
            raise IncorrectLookupParameters("a parameter contains a NUL character")
        validate_drill_down(request.GET, self.date_hierarchy)
        return super().get_changelist_instance(request)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return InsightsChangeList

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        context = {
            "insights_report_links": self._report_links(request, None),
            "insights_can_run_sync": can_run_sync(request),
            # The lists need the width: the admin's navigation sidebar would leave their columns about
            # 750 px at a 1400 px window (the breadcrumbs and the index lead everywhere it does).
            "is_nav_sidebar_enabled": False,
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)

    def render_change_form(self, request: HttpRequest, context: dict, *args: Any, **kwargs: Any):
        context["insights_report_links"] = self._report_links(request, kwargs.get("obj"))
        context["insights_can_run_sync"] = can_run_sync(request)
        return super().render_change_form(request, context, *args, **kwargs)

    @admin.display(description=_("raw payload"))
    def raw_payload(self, obj: SyncedModel) -> str:
        """The item as received from the API, pretty-printed and escaped."""
        return format_html(
            '<pre class="insights-raw">{}</pre>', json.dumps(obj.raw, indent=2, sort_keys=True, default=str)
        )


def _shown_field(field: Any, formatter: Any) -> Any:
    """A read-only display function for one model field, labelled like the field, sorted by it in lists."""

    def show(obj: Model) -> str:
        return formatter(getattr(obj, field.name))

    return admin.display(description=FIELD_LABELS.get(field.name, field.verbose_name), ordering=field.name)(
        show
    )
