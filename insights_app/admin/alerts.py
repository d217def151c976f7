"""The alert list in the admin: read-only, filtered, each alert linked to its cause; silencing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..alerts.links import cause_url
from ..models import Alert
from ..models.alert import silenced_now
from ..models.clock import db_now
from .base import ReadOnlyAdmin
from .code_labels import deliveries_list, subject_label
from .links import link

SILENCE_PERM = "insights_app.silence_alert"


class StateFilter(admin.SimpleListFilter):
    """Open or resolved (open by default is what an operator wants, but the list shows all)."""

    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("open", _("open")), ("resolved", _("resolved")), ("silenced", _("silenced"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "open":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        if self.value() == "silenced":
            return queryset.filter(silenced_until__gt=db_now())
        return queryset


def _silence(modeladmin: Any, request: HttpRequest, queryset: QuerySet, hours: int) -> None:
    until = db_now() + timedelta(hours=hours)  # judged by the alert engine's host: one clock
    count = queryset.update(silenced_until=until)
    modeladmin.message_user(
        request,
        ngettext("%(n)d alert silenced until %(until)s.", "%(n)d alerts silenced until %(until)s.", count)
        % {"n": count, "until": timezone.localtime(until).strftime("%Y-%m-%d %H:%M")},
        messages.SUCCESS,
    )


@admin.action(description=_("Silence for 1 hour"), permissions=["silence"])
def silence_hour(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> None:
    """No notification for these rules and subjects for an hour (also if they clear and reopen)."""
    _silence(modeladmin, request, queryset, 1)


@admin.action(description=_("Silence for 1 day"), permissions=["silence"])
def silence_day(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> None:
    """Silence for a day."""
    _silence(modeladmin, request, queryset, 24)


@admin.action(description=_("Silence for 1 week"), permissions=["silence"])
def silence_week(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> None:
    """Silence for a week."""
    _silence(modeladmin, request, queryset, 24 * 7)


@admin.action(description=_("End the silence"), permissions=["silence"])
def unsilence(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> None:
    """Notify again from the next event on."""
    count = queryset.update(silenced_until=None)
    modeladmin.message_user(
        request, ngettext("%(n)d alert unsilenced.", "%(n)d alerts unsilenced.", count) % {"n": count}
    )


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    """Read-only: alerts open and resolve by themselves; people only silence them."""

    list_display = (
        "title",
        "rule",
        "state",
        "first_seen_at",
        "last_seen_at",
        "resolved_at",
        "notified_at",
        "silenced_until",
        "cause",
    )
    list_filter = (StateFilter, "rule", "first_seen_at")
    search_fields = ("title", "subject")
    date_hierarchy = None
    ordering = ("-last_seen_at",)
    actions = (silence_hour, silence_day, silence_week, unsilence)
    fields = (
        "rule",
        "subject_shown",
        "title",
        "message",
        "cause",
        "first_seen_at",
        "last_seen_at",
        "resolved_at",
        "notified_at",
        "resolved_notified_at",
        "silenced_until",
        "deliveries_shown",
    )
    readonly_fields = fields

    @admin.display(description=_("subject"))
    def subject_shown(self, obj: Alert) -> str:
        """What the alert is about, in words ("the organisation", "room /standup")."""
        return subject_label(obj.subject)

    @admin.display(description=_("deliveries"))
    def deliveries_shown(self, obj: Alert) -> str:
        """Each channel's outcome per event, a line each (not the stored JSON)."""
        return deliveries_list(obj.deliveries)

    def has_silence_permission(self, request: HttpRequest) -> bool:
        """Silencing needs ``insights_app.silence_alert``."""
        return request.user.is_active and request.user.is_staff and request.user.has_perm(SILENCE_PERM)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Alert]:
        """Each alert with whether it is silenced now by the database's clock, as the state filter and the engine judge."""
        return super().get_queryset(request).annotate(silenced_now=silenced_now())

    @admin.display(description=_("state"))
    def state(self, obj: Alert) -> Any:
        if obj.resolved_at:
            return _("resolved")
        return _("open, silenced") if getattr(obj, "silenced_now", False) else _("open")

    @admin.display(description=_("cause"))
    def cause(self, obj: Alert) -> str:
        """A link to the page that shows the cause (escaped)."""
        return link(cause_url(obj), _("show"))
