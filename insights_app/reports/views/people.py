"""People: usage per external id, and a page per external id."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Max, Q
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from ...display.names import real_name, shown_name
from ...display.numbers import format_int
from ...models import Participant
from ...models.expressions import real_names_only
from ..filters import ReportFilters
from ..labels import Label, resolve_labels
from ..queries.elapsed import finished_seconds, open_elapsed_sum, total_seconds
from ..queries.people import PEOPLE_SORTS
from ..queries.people_ranked import people_listing
from ..tables import Column, format_cell
from .base import ReportView, elapsed_seconds, paged_table, sort_links

PER_PAGE = 50
PEOPLE_COLUMNS = [
    Column("label", _("Name"), link_key="url"),
    Column("external_id", _("External id"), link_key="host_url"),
    Column("sessions", _("Sessions"), "int"),
    Column("connections", _("Connections"), "int"),
    Column("minutes", _("Minutes connected"), "minutes"),
    Column("last_seen", _("Last seen"), "datetime"),
    Column("state", _("Connected now")),
]
PEOPLE_SORT_LABELS = {
    "minutes": _("most minutes"),
    "sessions": _("most sessions"),
    "last_seen": _("seen most recently"),
    "external_id": _("external id A–Z"),
}


def person_name(external_id: str, label: Label, display_name: str | None) -> str:
    """The host site's label when it has one, else a display name the person used, else the id."""
    if label.text != external_id:
        return label.text
    return real_name(display_name) or external_id


def period_query(filters: ReportFilters) -> str:
    """``?period=…&room=…`` for a link to another page of the same connections (no search, sort or page)."""
    query = filters.querystring(q="", sort="", page="", csv="")
    return f"?{query}" if query else ""


def person_rows(rows: list[dict[str, Any]], query: str = "") -> list[dict[str, Any]]:
    """Add names (one resolver call for the batch), links and minutes; ``query`` keeps the period on the
    person's link, so the person page counts the connections the row counted."""
    labels = resolve_labels(r["external_id"] for r in rows)
    for r in rows:
        label = labels[r["external_id"]]
        r["label"] = person_name(r["external_id"], label, r["display_name"])
        r["host_url"] = label.url
        r["url"] = reverse("insights_app:person", args=[r["external_id"]]) + query
        r["minutes"] = total_seconds(r["seconds"], r["open_elapsed"]) / 60.0
        r["state"] = _("yes") if r["ongoing"] else ""
    return rows


class PeopleView(ReportView):
    """``/insights/people/``."""

    template_name = "insights_app/reports/people.html"
    title = _("People")
    stem = "people"
    extra_filters = ("q",)

    def build(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Count (1) and one page (1) of external ids, one resolver call."""
        sort = request.GET.get("sort", "minutes")
        sort = sort if sort in PEOPLE_SORTS else "minutes"
        listed = people_listing(self.filters, self.now, sort)
        query = period_query(self.filters)
        table = paged_table(
            request,
            listed,
            lambda rows: person_rows(rows, query),
            per_page=PER_PAGE,
            name="people",
            title=_("People by external id"),
            columns=PEOPLE_COLUMNS,
            empty_text=_("No connection with an external id matches in this period."),
        )
        table.sorts = sort_links(PEOPLE_SORTS, PEOPLE_SORT_LABELS, sort)
        return {"tables": [table], "main_tables": [table]}


CONNECTION_COLUMNS = [
    Column("joined_at", _("Joined"), "datetime", link_key="session_url"),
    Column("room_session__room_name", _("Room"), link_key="room_url"),
    Column("display_name", _("Display name")),
    Column("role_name", _("Role"), "role"),
    Column("seconds", _("Duration"), "duration"),
    Column("browser", _("Browser")),
    Column("os", _("OS")),
    Column("quality", _("Quality"), link_key="quality_url"),
]
CONNECTION_FIELDS = (
    "id",
    "joined_at",
    "left_at",
    "duration_seconds",
    "display_name",
    "role_name",
    "browser",
    "os",
    "quality_degraded",
    "room_session_id",
    "room_session__room_name",
    "room_id",
)


QUALITY_WORDS = {None: _("no data"), True: _("degraded"), False: _("good")}


def connection_rows(rows: list[dict[str, Any]], now: Any) -> list[dict[str, Any]]:
    """``connection_row`` for a batch, the quality words translated once for it."""
    words = {key: str(word) for key, word in QUALITY_WORDS.items()}
    return [connection_row(row, now, words) for row in rows]


def connection_row(row: dict[str, Any], now: Any, words: dict[Any, str] | None = None) -> dict[str, Any]:
    """A person's connection with links and its length (to now while connected)."""
    row["seconds"] = (
        row["duration_seconds"]
        if row["duration_seconds"] is not None
        else elapsed_seconds(row["joined_at"], None, now)
    )
    row["session_url"] = reverse("insights_app:session", args=[row["room_session_id"]])
    row["room_url"] = reverse("insights_app:room", args=[row["room_id"]])
    row["quality_url"] = reverse("insights_app:participant_quality", args=[row["id"]])
    row["display_name"] = shown_name(row["display_name"])
    row["quality"] = (words or QUALITY_WORDS)[row["quality_degraded"]]
    return row


class PersonView(ReportView):
    """``/insights/people/<external id>/``."""

    template_name = "insights_app/reports/person.html"

    def build(self, request: HttpRequest, external_id: str) -> dict[str, Any]:
        """Totals (1), connections count and page (2), one resolver call."""
        base = self.filters.participants(Participant.objects.filter(external_id=external_id))
        totals = base.aggregate(
            connections=Count("id"),
            sessions=Count("room_session_id", distinct=True),
            rooms=Count("room_id", distinct=True),
            seconds=finished_seconds(),
            open_elapsed=open_elapsed_sum(self.now),
            degraded=Count("id", filter=Q(quality_degraded=True)),
            measured=Count("id", filter=Q(quality_degraded__isnull=False)),
            last_seen=Max("joined_at"),
            display_name=Max("display_name", filter=real_names_only()),
        )
        if not totals["connections"] and not Participant.objects.filter(external_id=external_id).exists():
            raise Http404("unknown external id")
        totals["minutes"] = total_seconds(totals.pop("seconds"), totals.pop("open_elapsed")) / 60.0
        label = resolve_labels([external_id])[external_id]
        name = person_name(external_id, label, totals.pop("display_name"))
        listed = base.order_by("-joined_at", "-id").values(*CONNECTION_FIELDS)
        now = self.now
        table = paged_table(
            request,
            listed,
            lambda rows: connection_rows(rows, now),
            per_page=PER_PAGE,
            name="connections",
            title=_("Connections"),
            columns=CONNECTION_COLUMNS,
            empty_text=_("No connections in this period."),
        )
        return {
            "title": name,
            "external_id": external_id,
            "people_url": reverse("insights_app:people") + period_query(self.filters),
            "totals_text": {
                key: format_int(totals[key])
                for key in ("sessions", "connections", "rooms", "degraded", "measured")
            },
            "minutes_text": format_cell(totals["minutes"], "minutes"),
            "label": label,
            "totals": totals,
            # Safe for a file name: slugify keeps ASCII letters, digits and dashes only.
            "stem": f"person-{slugify(external_id)[:40]}".rstrip("-"),
            "tables": [table],
            "main_tables": [table],
        }
