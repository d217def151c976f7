"""JSON of live presence for the pages' script (people who may see the dashboard or the reports)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from . import presence

ALLOWED_PERMS = ("insights_app.view_reports", "insights_app.view_syncrun")


@require_GET
def presence_view(request: HttpRequest) -> JsonResponse:
    """``{"rooms": [...]}``, optionally for one room (``?room=``); never calls the API."""
    user = request.user
    if not (user.is_active and any(user.has_perm(p) for p in ALLOWED_PERMS)):
        raise PermissionDenied
    room = request.GET.get("room")
    return JsonResponse({"rooms": presence.presence_json(room or None)})
