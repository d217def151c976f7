"""List filters that stay cheap on tables with millions of rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .. import models as m
from ..display.roles import role_label
from ..models.expressions import distinct_values


class RecentFilter(admin.SimpleListFilter):
    """Time ranges relative to now (last 24 hours, 7, 30, 90 days, older) on one datetime field."""

    field_name = ""
    ranges = (
        ("24h", _("Last 24 hours"), timedelta(hours=24)),
        ("7d", _("Last 7 days"), timedelta(days=7)),
        ("30d", _("Last 30 days"), timedelta(days=30)),
        ("90d", _("Last 90 days"), timedelta(days=90)),
    )

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [(key, label) for key, label, _delta in self.ranges] + [("older", _("Older than 90 days"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        value = self.value()
        now = timezone.now()
        for key, _label, delta in self.ranges:
            if value == key:
                return queryset.filter(**{f"{self.field_name}__gte": now - delta})
        if value == "older":
            return queryset.filter(**{f"{self.field_name}__lt": now - self.ranges[-1][2]})
        return None


def recent_filter(field_name: str, title: str | Promise) -> type[RecentFilter]:
    """A ``RecentFilter`` subclass for one field (its own title and URL parameter)."""
    return type(
        f"Recent_{field_name}",
        (RecentFilter,),
        {"field_name": field_name, "title": title, "parameter_name": f"{field_name}_within"},
    )


class YesNoFilter(admin.SimpleListFilter):
    """A yes/no filter whose two answers are given as Q objects."""

    yes_q: Q = Q()
    no_q: Q = Q()
    yes_label = _("Yes")
    no_label = _("No")

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [("yes", self.yes_label), ("no", self.no_label)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        if self.value() == "yes":
            return queryset.filter(self.yes_q)
        if self.value() == "no":
            return queryset.filter(self.no_q)
        return None


class SessionOngoingFilter(YesNoFilter):
    """Sessions still running (no end time) or ended."""

    title = _("ongoing")
    parameter_name = "ongoing"
    yes_q = Q(ended_at__isnull=True)
    no_q = Q(ended_at__isnull=False)
    yes_label = _("Ongoing")
    no_label = _("Ended")


class ParticipantConnectedFilter(SessionOngoingFilter):
    """Connections still open, or closed. A connection without a leave time in a session that has
    ended was given a duration up to the session's end by the sync, so it counts as closed."""

    title = _("connected")
    parameter_name = "connected"
    yes_q = Q(left_at__isnull=True, duration_seconds__isnull=True)
    no_q = Q(left_at__isnull=False) | Q(duration_seconds__isnull=False)
    yes_label = _("Still connected")
    no_label = _("Left")


class QualityFilter(admin.SimpleListFilter):
    """Connections with sustained packet loss (degraded), good ones, or not measured yet.

    The words are the reports' own; ``poor`` and ``ok`` (earlier links) still work.
    """

    title = _("network quality")
    parameter_name = "quality"
    aliases = {"poor": "degraded", "ok": "good"}

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [("degraded", _("Degraded")), ("good", _("Good")), ("unknown", _("Not measured"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        value = self.value()
        value = self.aliases.get(value, value) if value is not None else None
        if value == "degraded":
            return queryset.filter(quality_degraded=True)
        if value == "good":
            return queryset.filter(quality_degraded=False)
        if value == "unknown":
            return queryset.filter(quality_degraded__isnull=True)
        return None


class HasExternalIdFilter(YesNoFilter):
    """Connections that carry the site's external id, or not."""

    title = _("has external id")
    parameter_name = "has_external_id"
    yes_q = Q(external_id__isnull=False) & ~Q(external_id="")
    no_q = Q(external_id__isnull=True) | Q(external_id="")


class RatedFilter(YesNoFilter):
    """Sessions somebody rated, or not."""

    title = _("rated")
    parameter_name = "rated"
    yes_q = Q(rating__isnull=False)
    no_q = Q(rating__isnull=True)


class MissingRoomFilter(YesNoFilter):
    """Rooms the API no longer lists (kept as history)."""

    title = _("missing from the API")
    parameter_name = "missing"
    yes_q = Q(missing_since__isnull=False)
    no_q = Q(missing_since__isnull=True)


class DistinctValueFilter(admin.SimpleListFilter):
    """Choices are the column's distinct values, found through its index."""

    column = ""

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [(value, value) for value in distinct_values(model_admin.model, self.column)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        if self.value():
            return queryset.filter(**{self.column: self.value()})
        return None


class RoleFilter(DistinctValueFilter):
    """Participant role as the API names it (host, visitor, ...)."""

    title = _("role")
    parameter_name = "role"
    column = "role_name"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [(value, role_label(value)) for value, _label in super().lookups(request, model_admin)]


class BrowserFilter(DistinctValueFilter):
    """Browser parsed from the user agent of the connection's details."""

    title = _("browser")
    parameter_name = "browser"
    column = "browser"


class OSFilter(DistinctValueFilter):
    """Operating system parsed from the user agent."""

    title = _("operating system")
    parameter_name = "os"
    column = "os"


class RelatedObjectFilter(admin.SimpleListFilter):
    """Narrow to one parent object (room, session) reached by a link; shows only that object.

    It lists no choices until a link sets it, so the sidebar never loads thousands of parents.
    """

    related_model: type[Model] = m.Room
    lookup = ""

    def _selected(self) -> Model | None:
        value = self.value()
        if value is None:
            return None
        try:
            pk = int(value)
        except ValueError:
            raise IncorrectLookupParameters(value) from None
        return self.related_model._default_manager.filter(pk=pk).first()

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        selected = self._selected() if self.value() is not None else None
        return [(str(selected.pk), str(selected))] if selected else []

    def has_output(self) -> bool:
        return self.value() is not None

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        value = self.value()
        if value is None:
            return None
        try:
            return queryset.filter(**{self.lookup: int(value)})
        except ValueError:
            raise IncorrectLookupParameters(value) from None


class RoomFilter(RelatedObjectFilter):
    """Sessions of one room."""

    title = _("room")
    parameter_name = "room"
    related_model = m.Room
    lookup = "room_id"


class ParticipantRoomFilter(RoomFilter):
    """Connections to any session of one room (the sync's denormalised room: no join, its own index)."""

    lookup = "room_id"


class SessionFilter(RelatedObjectFilter):
    """Connections of one session."""

    title = _("session")
    parameter_name = "session"
    related_model = m.RoomSession
    lookup = "room_session_id"
