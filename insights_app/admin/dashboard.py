"""The sync dashboard: start and cancel syncs, watch progress, see the machinery's health."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views import View

from .. import models as m
from ..display.durations import age, duration
from ..display.numbers import count
from ..jobs.enqueue import cancel_run
from ..jobs.health import Health, check_health, last_sign_of_life, run_silent_after
from ..rollups.marks import enabled as rollups_enabled
from ..rollups.stale import waiting
from ..rollups.state import behind_reason, current_state, status_text
from ..sync.clock import db_now
from ..sync.estimate import estimate_for
from .actions import enqueue
from .base import can_run_sync
from .links import admin_change_url
from .run_text import estimate_text, full_sync_text, run_name, run_progress, run_seconds

ACTIVE_LIMIT = 50
RECENT_LIMIT = 20
STARTABLE_KINDS = (m.SyncKind.INCREMENTAL, m.SyncKind.FULL)
# Whole button texts: the adjective inflects with "sync" in other languages ("Vollständigen Sync starten").
START_LABELS = {m.SyncKind.INCREMENTAL: _("Start incremental sync"), m.SyncKind.FULL: _("Start full sync")}


def rollup_status() -> dict[str, Any]:
    """Whether the report rollups are up to date, for the Machinery table."""
    state = current_state()
    if not rollups_enabled():
        return {"behind": False, "text": status_text(state, enabled=False)}
    return {"behind": bool(behind_reason(state)), "text": status_text(state, stale_days=waiting())}


def dashboard_url() -> str:
    """Where the dashboard lives in the admin."""
    return reverse("admin:insights_app_syncrun_dashboard")


def started_by(run: m.SyncRun) -> str:
    """Who started the run: the user when there is one, else what (the schedule, a command)."""
    return run.requested_by.get_username() if run.requested_by else run.get_trigger_display()


def run_json(run: m.SyncRun, may_cancel: bool) -> dict[str, Any]:
    """One run as the dashboard shows it: every figure already written as text, so the page and the
    script show the same thing (the script never builds HTML from it)."""
    total = run.progress_total
    estimate = estimate_for(run)  # read once: the progress and the estimate's words both use it
    progress, percent = run_progress(run, estimate)
    created = sum(getattr(run, f"{model}_created") for model in m.SYNCED_MODELS)
    updated = sum(getattr(run, f"{model}_updated") for model in m.SYNCED_MODELS)
    alive_at = last_sign_of_life(run)
    # Heartbeats are written with the database's clock; this host's may be minutes off.
    silent = (db_now() - alive_at).total_seconds() if alive_at else None
    return {
        "id": run.pk,
        "label": run_name(run),
        "url": admin_change_url(m.SyncRun, run.pk),
        "kind": run.get_kind_display(),
        "status": run.status,
        "status_label": run.get_status_display(),
        "trigger": run.get_trigger_display(),
        "requested_by": run.requested_by.get_username() if run.requested_by else "",
        "started_by": started_by(run),
        "queued_at": run.queued_at.isoformat() if run.queued_at else None,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "duration": duration(run_seconds(run)) if run.started_at else "",
        "progress_done": run.progress_done,
        "progress_total": total,
        "progress_text": progress,
        "estimate_text": estimate_text(run, estimate),
        "percent": percent,
        "created": created,
        "updated": updated,
        "created_updated_text": f"{count(created)} / {count(updated)}",
        "api_requests": run.api_requests,
        "api_requests_text": count(run.api_requests),
        "heartbeat_age_seconds": round(silent) if silent is not None else None,
        "heartbeat_text": gettext("last sign of life %(age)s") % {"age": age(silent)}
        if silent is not None
        else "",
        "silent": silent is not None and silent > run_silent_after().total_seconds(),
        "error": (run.error or "").strip().splitlines()[0][:300] if run.error else "",
        "cancel_requested": run.cancel_requested,
        "cancel_url": reverse("admin:insights_app_syncrun_cancel", args=[run.pk])
        if may_cancel and run.is_active
        else None,
    }


def active_runs() -> list[m.SyncRun]:
    """Queued and running runs, oldest first (the order they will be worked on)."""
    return list(
        m.SyncRun.objects.active().select_related("requested_by").order_by("queued_at")[:ACTIVE_LIMIT]
    )


def recent_runs() -> list[m.SyncRun]:
    """The latest finished runs."""
    return list(
        m.SyncRun.objects.finished().select_related("requested_by").order_by("-queued_at")[:RECENT_LIMIT]
    )


class AdminPageView(View):
    """A view mounted through ``SyncRunAdmin.get_urls``; viewing needs to see sync runs
    (``view_syncrun``, or ``run_sync``, which includes it: see ``SyncRunAdmin.has_view_permission``)."""

    model_admin: admin.ModelAdmin | None = None

    def sync_run_admin(self) -> admin.ModelAdmin:
        """The admin this view is mounted on (``as_view(model_admin=...)``)."""
        if self.model_admin is None:
            raise ImproperlyConfigured(f"{type(self).__name__} needs as_view(model_admin=...)")
        return self.model_admin

    def check_view(self, request: HttpRequest) -> None:
        if not self.sync_run_admin().has_view_permission(request):
            raise PermissionDenied

    def check_run_sync(self, request: HttpRequest) -> None:
        if not can_run_sync(request):
            raise PermissionDenied


class DashboardView(AdminPageView):
    """The page; its tables are refreshed by ``dashboard.js`` polling ``StatusView``."""

    def get(self, request: HttpRequest) -> HttpResponse:
        self.check_view(request)
        health = check_health(sweep=True)
        may_run = can_run_sync(request)
        context = {
            **self.sync_run_admin().admin_site.each_context(request),
            "title": _("Sync dashboard"),
            "opts": self.sync_run_admin().model._meta,
            "health": health,
            "active": [run_json(run, may_run) for run in active_runs()],
            "recent": [run_json(run, may_run) for run in recent_runs()],
            "can_run_sync": may_run,
            "start_url": reverse("admin:insights_app_syncrun_start"),
            "status_url": reverse("admin:insights_app_syncrun_dashboard_status"),
            "kinds": [(kind.value, START_LABELS[kind]) for kind in STARTABLE_KINDS],
            "full_sync_estimate": full_sync_text() if may_run else "",
            "rollups": rollup_status(),
        }
        return TemplateResponse(request, "insights_app/admin/dashboard.html", context)


class StatusView(AdminPageView):
    """JSON for the live parts of the dashboard: health, active and recent runs."""

    def get(self, request: HttpRequest) -> JsonResponse:
        self.check_view(request)
        may_run = can_run_sync(request)
        health: Health = check_health(sweep=True)
        return JsonResponse(
            {
                "health": health.as_json(),
                "active": [run_json(run, may_run) for run in active_runs()],
                "recent": [run_json(run, may_run) for run in recent_runs()],
            }
        )


def _back(request: HttpRequest) -> HttpResponse:
    """Back to ``next`` when it is one of our pages, else to the dashboard."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return redirect(target)
    return redirect(dashboard_url())


class StartView(AdminPageView):
    """POST: queue an incremental or full sync."""

    def post(self, request: HttpRequest) -> HttpResponse:
        self.check_run_sync(request)
        kind = request.POST.get("kind", m.SyncKind.INCREMENTAL)
        if kind not in STARTABLE_KINDS:
            return HttpResponseBadRequest(gettext("Unknown sync kind."))
        result = enqueue(request, kind=kind)
        if result is not None and result.created:
            health = check_health()
            for problem in health.problems():
                messages.warning(request, problem)
        return _back(request)


class CancelView(AdminPageView):
    """POST: cancel a queued run now, or ask a running one to stop at its next page."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        self.check_run_sync(request)
        run = get_object_or_404(m.SyncRun, pk=pk)
        if not run.is_active:
            messages.info(request, format_html(gettext("{} has already finished."), run_name(run)))
            return _back(request)
        run = cancel_run(run, by=f"{request.user.get_username()} from the admin")
        if run.status == m.SyncStatus.CANCELLED:
            messages.success(request, format_html(gettext("{} was cancelled."), run_name(run)))
        else:
            messages.success(
                request, format_html(gettext("{} will stop after the page it is working on."), run_name(run))
            )
        return _back(request)
