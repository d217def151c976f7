"""JSON of live presence for the pages' script (people who may see the dashboard or the reports)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from . import presence

# The pages that show presence: a room report (view_reports) and the sync dashboard (view_syncrun, or
# run_sync which includes it). Both live behind the admin's login, so both need staff.
ALLOWED_PERMS = ("insights_app.view_reports", "insights_app.view_syncrun", "insights_app.run_sync")


def may_see_presence(user: Any) -> bool:
    """Whoever may open a page showing presence: active staff with one of those pages' permissions."""
    return bool(user.is_active and user.is_staff and any(user.has_perm(p) for p in ALLOWED_PERMS))


@require_GET
def presence_view(request: HttpRequest) -> JsonResponse:
    """``{"rooms": [...]}``, optionally for one room (``?room=``); never calls the API."""
    if not may_see_presence(request.user):
        raise PermissionDenied
    room = request.GET.get("room")
    return JsonResponse({"rooms": presence.presence_json(room or None)})
