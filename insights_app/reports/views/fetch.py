"""The "Fetch network samples" button: queue a details sync for connections without samples."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ... import models as m
from ...jobs.enqueue import enqueue_sync
from ...jobs.queue import QueueUnavailable
from .awaited import AWAITED_RUNS
from .base import can_fetch_samples, safe_reverse

# One run fetches the details of at most this many connections (a large session's worth).
MAX_CONNECTIONS = 500


def post_action(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``require_POST``, and marked ``post_only``: a form's target, not a page to link to."""
    wrapped = require_POST(view)
    wrapped.post_only = True  # type: ignore[attr-defined]
    return wrapped


def _back(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("insights_app:overview")


def _queue(request: HttpRequest, ids: list[int]) -> HttpResponse:
    """Queue one details run (as the admin action does) for ``ids``, then go back with a message."""
    if not ids:
        messages.info(request, _("Every connection here has its network samples already."))
        return HttpResponseRedirect(_back(request))
    try:
        result = enqueue_sync(
            kind=m.SyncKind.DETAILS, trigger=m.SyncTrigger.ADMIN, user=request.user, participant_ids=ids
        )
    except QueueUnavailable as exc:
        messages.error(request, _("Nothing was queued: %(why)s") % {"why": exc})
        return HttpResponseRedirect(_back(request))
    if result.created:
        text = _("Queued %(run)s: the samples appear here once it has finished.") % {"run": result.run}
    else:
        text = _("%(run)s is already queued or running for these connections.") % {"run": result.run}
    back = _back(request)
    if hasattr(request, "session"):
        awaited = dict(request.session.get(AWAITED_RUNS) or {})
        awaited[back.split("?", 1)[0]] = result.run.pk
        request.session[AWAITED_RUNS] = dict(list(awaited.items())[-20:])  # a few pages, not a history
    if safe_reverse("admin:insights_app_syncrun_dashboard"):
        text += " " + _("Follow it on the sync dashboard.")
    messages.success(request, text)
    return HttpResponseRedirect(back)


def fetch_run_status(request: HttpRequest, pk: int) -> HttpResponse:
    """``{"finished": …, "status": …}`` of a samples run, for the page that waits for it."""
    denied = _allowed(request)
    if denied:
        return denied
    run = get_object_or_404(m.SyncRun.objects.only("pk", "status", "finished_at"), pk=pk)
    return JsonResponse({"finished": run.finished_at is not None, "status": run.status})


def _allowed(request: HttpRequest) -> HttpResponse | None:
    """A login redirect or PermissionDenied unless the user may read reports and run syncs."""
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("insights_app:overview"), reverse("admin:login"))
    if not can_fetch_samples(request.user):
        raise PermissionDenied
    return None


@post_action
def fetch_connection_samples(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue the details sync of one connection."""
    denied = _allowed(request)
    if denied:
        return denied
    participant = get_object_or_404(m.Participant.objects.only("pk"), pk=pk)
    return _queue(request, [participant.pk])


@post_action
def fetch_session_samples(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue the details sync of a session's connections that have no samples yet."""
    denied = _allowed(request)
    if denied:
        return denied
    session = get_object_or_404(m.RoomSession.objects.only("pk"), pk=pk)
    ids = list(
        m.Participant.objects.filter(room_session_id=session.pk, quality_degraded__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)[:MAX_CONNECTIONS]
    )
    return _queue(request, ids)
