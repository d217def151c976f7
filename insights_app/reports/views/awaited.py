"""The samples run a report page queued and waits for: the page polls it and reloads once it has finished."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from ... import models as m

# The run queued from a page, per path, in the user's session (as the sync dashboard follows its runs).
AWAITED_RUNS = "insights_awaited_runs"


def awaited_run_url(request: HttpRequest) -> str:
    """The status URL of the run this page queued and still waits for, or ""."""
    session = getattr(request, "session", None)
    awaited = dict((session.get(AWAITED_RUNS) if session is not None else None) or {})
    pk = awaited.get(request.path)
    if not isinstance(pk, int):
        return ""
    if not m.SyncRun.objects.filter(pk=pk, finished_at__isnull=True).exists():
        del awaited[request.path]
        session[AWAITED_RUNS] = awaited  # type: ignore[index]
        return ""
    return reverse("insights_app:fetch_run_status", args=[pk])
