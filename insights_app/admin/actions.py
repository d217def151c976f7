"""Admin actions that enqueue syncs (never run them in the request) and link to the SyncRun."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import models as m
from ..jobs.enqueue import enqueue_sync
from ..jobs.queue import QueueUnavailable
from .links import admin_change_url
from .run_text import run_name

# One external-id run per distinct id: past this many, ask the user to narrow the selection.
MAX_EXTERNAL_IDS = 20


def enqueue(request: HttpRequest, **kwargs: Any) -> Any | None:
    """Call ``jobs.enqueue_sync`` for the admin and tell the user what happened; None when nothing was queued."""
    try:
        result = enqueue_sync(trigger=m.SyncTrigger.ADMIN, user=request.user, **kwargs)
    except QueueUnavailable as exc:
        messages.error(request, format_html(gettext("Nothing was queued: {}"), str(exc)))
        return None
    run = result.run
    url = admin_change_url(m.SyncRun, run.pk)
    if result.created:
        text = gettext("Queued {run}.")
    else:
        text = gettext("{run} was already queued or running for the same scope; follow it there.")
    messages.success(request, format_html(text, run=format_html('<a href="{}">{}</a>', url, run_name(run))))
    return result


@admin.action(description=_("Sync selected rooms"), permissions=["run_sync"])
def sync_selected_rooms(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    """One run covering the selected rooms (their sessions and participants)."""
    names = list(queryset.order_by("room_name").values_list("room_name", flat=True))
    enqueue(request, kind=m.SyncKind.ROOM, room_names=names)


@admin.action(description=_("Sync selected sessions"), permissions=["run_sync"])
def sync_selected_sessions(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    """One run covering the selected sessions and their participants."""
    ids = list(queryset.order_by("room_session_id").values_list("room_session_id", flat=True))
    enqueue(request, kind=m.SyncKind.SESSION, room_session_ids=ids)


@admin.action(description=_("Fetch quality details for selected participants"), permissions=["run_sync"])
def fetch_details_for_selected(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> None:
    """One run fetching the network-quality details of the selected connections."""
    ids = list(queryset.order_by("pk").values_list("pk", flat=True))
    enqueue(request, kind=m.SyncKind.DETAILS, participant_ids=ids)


@admin.action(description=_("Sync everything linked to this external id"), permissions=["run_sync"])
def sync_selected_external_ids(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> None:
    """One run per distinct external id among the selected connections."""
    ids = sorted(
        set(
            queryset.exclude(external_id__isnull=True)
            .exclude(external_id="")
            .values_list("external_id", flat=True)
        )
    )
    if not ids:
        messages.warning(request, gettext("None of the selected participants has an external id."))
        return
    if len(ids) > MAX_EXTERNAL_IDS:
        messages.warning(
            request,
            gettext("The selection holds %(count)d external ids; select at most %(max)d.")
            % {"count": len(ids), "max": MAX_EXTERNAL_IDS},
        )
        return
    for external_id in ids:
        enqueue(request, kind=m.SyncKind.EXTERNAL_ID, external_id=external_id)
