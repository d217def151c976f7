"""The "Fetch network samples" button: queue a details sync for connections without samples."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ... import models as m
from .base import can_fetch_samples, safe_reverse

# One run fetches the details of at most this many connections (a large session's worth).
MAX_CONNECTIONS = 500


def _back(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("insights_app:overview")


@require_POST
def fetch_samples(request: HttpRequest) -> HttpResponse:
    """Queue one details run (as the admin action does) for the posted connections, then go back."""
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("insights_app:overview"), reverse("admin:login"))
    if not can_fetch_samples(request.user):
        raise PermissionDenied
    try:
        wanted = sorted({int(v) for v in request.POST.getlist("participant")})
    except ValueError:
        return HttpResponseBadRequest(_("Connection ids must be whole numbers."))
    if not wanted or len(wanted) > MAX_CONNECTIONS:
        return HttpResponseBadRequest(
            _("Choose between 1 and %(max)d connections.") % {"max": MAX_CONNECTIONS}
        )
    ids = list(m.Participant.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    if not ids:
        return HttpResponseBadRequest(_("None of these connections is stored."))
    from ...jobs import QueueUnavailable, enqueue_sync

    try:
        result = enqueue_sync(
            kind=m.SyncKind.DETAILS, trigger=m.SyncTrigger.ADMIN, user=request.user, participant_ids=ids
        )
    except QueueUnavailable as exc:
        messages.error(request, _("Nothing was queued: %(why)s") % {"why": exc})
        return HttpResponseRedirect(_back(request))
    dashboard = safe_reverse("admin:insights_app_syncrun_dashboard")
    if result.created:
        text = _("Queued %(run)s: the samples appear here once it has finished.") % {"run": result.run}
    else:
        text = _("%(run)s is already queued or running for these connections.") % {"run": result.run}
    if dashboard:
        text += " " + _("Follow it on the sync dashboard.")
    messages.success(request, text)
    return HttpResponseRedirect(_back(request))
