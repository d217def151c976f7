"""Sync runs: history with outcome and counts; the sync dashboard is mounted on this admin's URLs."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import path
from django.utils.translation import gettext_lazy as _

from .. import models as m
from ..display.durations import duration
from ..display.numbers import count
from ..display.times import format_datetime, local_datetime
from . import dashboard
from .base import ReadOnlyAdmin, can_run_sync
from .code_labels import counts_list, scope_list
from .run_text import run_name, run_progress, run_seconds

SECONDS = "Y-m-d H:i:s"
TIMES = ("queued_time", "started_time", "finished_time", "heartbeat_time")
# The counts table's row and column headings (the counters' names are English field-name parts).
COUNTED_MODEL_LABELS = {
    "rooms": _("rooms"),
    "sessions": _("sessions"),
    "participants": _("participants"),
    "details": _("quality details"),
}
COUNT_KIND_LABELS = {
    "created": _("created"),
    "updated": _("updated"),
    "unchanged": _("unchanged"),
    "skipped": _("skipped"),
}


@admin.register(m.SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    """One row per sync; counters are columns, so the list needs no aggregation."""

    change_list_template = "insights_app/admin/syncrun_change_list.html"
    change_form_template = "insights_app/admin/syncrun_change_form.html"
    list_display = (
        "run",
        "status",
        "trigger",
        "requested_by",
        "queued",
        "run_duration",
        "progress",
        "created_total",
        "updated_total",
        "requests",
    )
    list_select_related = ("requested_by",)
    list_filter = ("status", "kind", "trigger", "queued_at")
    exact_search_fields = ("job_id", "dedup_key")
    search_fields = ("error",)
    search_help_text = _("Exact job id or scope key, else part of the error.")
    date_hierarchy = "queued_at"
    ordering = ("-queued_at",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "kind",
                    "status",
                    "trigger",
                    "requested_by",
                    "scope_shown",
                    "details_policy",
                    "job_id",
                    "batch_job_ids",
                )
            },
        ),
        (
            _("Timing"),
            {
                "fields": (
                    "queued_time",
                    "started_time",
                    "finished_time",
                    "run_duration",
                    "heartbeat_time",
                    "cancel_requested",
                )
            },
        ),
        (_("Outcome"), {"fields": ("progress", "counts_table", "skip_reasons_shown", "error")}),
        (
            _("API"),
            {
                "fields": (
                    "api_requests",
                    "api_points",
                    "api_points_estimated",
                    "api_points_reserved",
                    "api_throttles",
                    "api_retries",
                    "api_bytes",
                )
            },
        ),
        (_("Resume point"), {"classes": ("collapse",), "fields": ("checkpoint", "dedup_key")}),
    )

    def has_view_permission(self, request: HttpRequest, obj: m.SyncRun | None = None) -> bool:
        # Starting and cancelling syncs means following them: ``run_sync`` includes seeing the runs
        # (the list, a run's page, the dashboard and its status JSON), never changing them.
        return super().has_view_permission(request, obj) or can_run_sync(request)

    @admin.display(description=_("scope"))
    def scope_shown(self, obj: m.SyncRun) -> str:
        """What the run covers in words, not its stored JSON."""
        return scope_list(obj.scope)

    @admin.display(description=_("skip reasons"))
    def skip_reasons_shown(self, obj: m.SyncRun) -> str:
        """Each reason with how many items it held back, a line each."""
        return counts_list(obj.skip_reasons)

    def get_readonly_fields(self, request, obj=None):
        return (
            "progress",
            "counts_table",
            "scope_shown",
            "skip_reasons_shown",
            "run_duration",
            *TIMES,
            *[f.name for f in self.model._meta.fields],
        )

    def get_urls(self):
        opts = self.model._meta
        prefix = f"{opts.app_label}_{opts.model_name}"
        wrap = self.admin_site.admin_view
        page = wrap(dashboard.DashboardView.as_view(model_admin=self))
        entry = m.SyncDashboard._meta
        return [
            path("dashboard/", page, name=f"{prefix}_dashboard"),
            # The same page under the changelist name of the index's "Sync dashboard" row
            # (``app_list.SyncDashboardAdmin``), so the row links straight here.
            path("dashboard/", page, name=f"{entry.app_label}_{entry.model_name}_changelist"),
            path(
                "dashboard/status.json",
                wrap(dashboard.StatusView.as_view(model_admin=self)),
                name=f"{prefix}_dashboard_status",
            ),
            path(
                "dashboard/start/",
                wrap(dashboard.StartView.as_view(model_admin=self)),
                name=f"{prefix}_start",
            ),
            path(
                "<int:pk>/cancel/",
                wrap(dashboard.CancelView.as_view(model_admin=self)),
                name=f"{prefix}_cancel",
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request: HttpRequest, context: dict, *args, **kwargs):
        obj = kwargs.get("obj")
        context["insights_can_cancel"] = bool(obj and obj.is_active and can_run_sync(request))
        return super().render_change_form(request, context, *args, **kwargs)

    @admin.display(description=_("sync run"), ordering="pk")
    def run(self, obj: m.SyncRun) -> str:
        return run_name(obj)

    @admin.display(description=_("queued"), ordering="queued_at")
    def queued(self, obj: m.SyncRun) -> str:
        return local_datetime(obj.queued_at)

    # A run's page: times to the second (a run of a few seconds started and ended "at 08:39").
    @admin.display(description=_("queued"))
    def queued_time(self, obj: m.SyncRun) -> str:
        return format_datetime(obj.queued_at, SECONDS)

    @admin.display(description=_("started"))
    def started_time(self, obj: m.SyncRun) -> str:
        return format_datetime(obj.started_at, SECONDS)

    @admin.display(description=_("finished"))
    def finished_time(self, obj: m.SyncRun) -> str:
        return format_datetime(obj.finished_at, SECONDS)

    @admin.display(description=_("last sign of life"))
    def heartbeat_time(self, obj: m.SyncRun) -> str:
        return format_datetime(obj.heartbeat_at, SECONDS)

    @admin.display(description=_("duration"))
    def run_duration(self, obj: m.SyncRun) -> str:
        return duration(run_seconds(obj))

    @admin.display(description=_("progress"))
    def progress(self, obj: m.SyncRun) -> str:
        return run_progress(obj)[0] or "—"

    @admin.display(description=_("created"))
    def created_total(self, obj: m.SyncRun) -> str:
        return count(sum(getattr(obj, f"{model}_created") for model in m.SYNCED_MODELS))

    @admin.display(description=_("updated"))
    def updated_total(self, obj: m.SyncRun) -> str:
        return count(sum(getattr(obj, f"{model}_updated") for model in m.SYNCED_MODELS))

    @admin.display(description=_("API requests"), ordering="api_requests")
    def requests(self, obj: m.SyncRun) -> str:
        return count(obj.api_requests)

    @admin.display(description=_("counts"))
    def counts_table(self, obj: m.SyncRun) -> str:
        return render_to_string(
            "insights_app/admin/counts_table.html",
            {
                "counts": {
                    COUNTED_MODEL_LABELS.get(model, model): {k: count(v) for k, v in row.items()}
                    for model, row in obj.counts().items()
                },
                "kinds": [COUNT_KIND_LABELS.get(kind, kind) for kind in m.COUNT_KINDS],
            },
        )
