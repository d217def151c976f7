"""Privacy in the admin: the forget action (own permission, confirmation page) and the read-only audit."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .. import models as m
from ..conf import get_settings
from ..privacy.erasure import ErasureError, forget_person
from .base import ViewOnlyAdmin
from .code_labels import counts_list, criterion_label, mode_label, trigger_label

FORGET_PERM = "insights_app.forget_person"
# Each value is one erasure (a few queries); past this many, narrow the selection.
MAX_PEOPLE = 20


def can_forget(request: HttpRequest) -> bool:
    """True when the user may erase people's personal data."""
    return request.user.is_active and request.user.is_staff and request.user.has_perm(FORGET_PERM)


def _values(queryset: QuerySet, kind: str) -> list[str]:
    return sorted(
        set(queryset.exclude(**{f"{kind}__isnull": True}).exclude(**{kind: ""}).values_list(kind, flat=True))
    )


@admin.action(description=_("Forget the people of the selected connections…"), permissions=["forget_person"])
def forget_selected_people(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> Any:
    """Ask which criterion to forget by (with what it would touch), then erase each person on confirmation."""
    choices = [(kind, label, _values(queryset, kind)) for kind, label in m.CriterionKind.choices]
    kind = request.POST.get("criterion")
    if request.POST.get("confirm") == "yes" and kind in m.CriterionKind.values:
        values = _values(queryset, kind)
        if not values or len(values) > MAX_PEOPLE:
            messages.error(request, gettext("Choose a criterion with between 1 and %d values.") % MAX_PEOPLE)
            return None
        totals = [0, 0]
        try:
            for value in values:
                result = forget_person(kind, value, trigger="admin", user=request.user)
                totals[0] += result.participants
                totals[1] += result.details
        except ErasureError as exc:
            messages.error(request, str(exc))
            return None
        messages.success(
            request,
            ngettext(
                "Forgot %(people)d person: %(connections)d connections and %(details)d detail rows.",
                "Forgot %(people)d people: %(connections)d connections and %(details)d detail rows.",
                len(values),
            )
            % {"people": len(values), "connections": totals[0], "details": totals[1]},
        )
        return None
    # A confirmation without a (usable) criterion is the same form again, saying what is missing.
    error = gettext("Choose what to forget the people by.") if request.POST.get("confirm") == "yes" else ""
    previews = []
    for value_kind, label, values in choices:
        if not values or len(values) > MAX_PEOPLE:
            previews.append({"kind": value_kind, "label": label, "values": values, "usable": False})
            continue
        dry = [forget_person(value_kind, v, dry_run=True, trigger="admin") for v in values]
        previews.append(
            {
                "kind": value_kind,
                "label": label,
                "values": values,
                "usable": True,
                "connections": sum(r.participants for r in dry),
                "details": sum(r.details for r in dry),
            }
        )
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": gettext("Forget people"),
        "opts": modeladmin.model._meta,
        "previews": previews,
        "max_people": MAX_PEOPLE,
        "selected": queryset.values_list("pk", flat=True),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "mode": get_settings().ERASURE_MODE,
        "error": error,
    }
    return TemplateResponse(request, "insights_app/admin/forget_confirmation.html", context)


class ErasureModeFilter(admin.SimpleListFilter):
    """Both modes always (a filter of the values present showed only "All" before any erasure)."""

    title = _("mode")
    parameter_name = "mode"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [("pseudonymise", _("pseudonymise")), ("delete", _("delete"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(mode=self.value()) if self.value() else queryset


class AuditAdminBase(ViewOnlyAdmin):
    """Privacy records are written by the app only: nobody adds, edits or deletes them here."""


@admin.register(m.PrivacyAudit)
class PrivacyAuditAdmin(AuditAdminBase):
    """Each retention batch and erasure: who, when, criterion (hashed) and row counts."""

    list_display = (
        "at",
        "action",
        "mode_shown",
        "trigger_shown",
        "actor",
        "criterion_shown",
        "short_hash",
        "participants",
    )
    list_filter = ("action", ErasureModeFilter, "trigger")
    search_fields = ("=criterion_hash", "actor")
    search_help_text = _("Exact criterion hash, or who.")
    date_hierarchy = "at"
    readonly_fields = (
        "action",
        "mode_shown",
        "at",
        "trigger_shown",
        "user",
        "actor",
        "criterion_shown",
        "criterion_hash",
        "cutoff",
        "participants",
        "details",
        "other_rows_shown",
    )
    fields = readonly_fields  # the words only, not the stored codes beside them

    @admin.display(description=_("mode"), ordering="mode")
    def mode_shown(self, obj: m.PrivacyAudit) -> str:
        return mode_label(obj.mode)

    @admin.display(description=_("trigger"), ordering="trigger")
    def trigger_shown(self, obj: m.PrivacyAudit) -> str:
        return trigger_label(obj.trigger)

    @admin.display(description=_("criterion"), ordering="criterion_kind")
    def criterion_shown(self, obj: m.PrivacyAudit) -> str:
        return criterion_label(obj.criterion_kind)

    @admin.display(description=_("other rows"))
    def other_rows_shown(self, obj: m.PrivacyAudit) -> str:
        return counts_list(obj.other_rows)

    @admin.display(description=_("criterion hash"))
    def short_hash(self, obj: m.PrivacyAudit) -> str:
        return obj.criterion_hash[:12] + "…" if obj.criterion_hash else "—"


@admin.register(m.PersonTombstone)
class PersonTombstoneAdmin(AuditAdminBase):
    """Forgotten people, as keyed hashes: the sync keeps them forgotten."""

    list_display = ("created_at", "kind", "criterion_hash", "mode_shown")
    list_filter = ("kind", ErasureModeFilter)
    search_fields = ("=criterion_hash",)
    readonly_fields = ("kind", "criterion_hash", "mode_shown", "created_at")
    fields = readonly_fields

    @admin.display(description=_("mode"), ordering="mode")
    def mode_shown(self, obj: m.PersonTombstone) -> str:
        return mode_label(obj.mode)
