"""The filters every report page reads from its query string, and how they narrow querysets."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from .periods import Period, PeriodError, default_period, period_from_params

MAX_TEXT_FILTER = 200
TEXT_FILTERS = {
    "room": _("Room name contains"),
    "q": _("Name or external id contains"),
    "browser": _("Browser"),
    "os": _("Operating system"),
    "role": _("Role"),
}
PARAMS = ("period", "start", "end", *TEXT_FILTERS)


def _text_error(name: str, value: str) -> str:
    """Why a text filter cannot be used, or empty."""
    if len(value) > MAX_TEXT_FILTER:
        return str(
            _("“%(field)s” may be at most %(max)d characters.")
            % {"field": TEXT_FILTERS[name], "max": MAX_TEXT_FILTER}
        )
    # PostgreSQL cannot compare text with NUL, and no stored name holds control characters.
    if any(unicodedata.category(c) == "Cc" for c in value):
        return str(_("“%(field)s” may not contain control characters.") % {"field": TEXT_FILTERS[name]})
    return ""


@dataclass(frozen=True)
class ReportFilters:
    """Date range and text filters, parsed once per request; ``errors`` lists what was unusable."""

    period: Period
    room: str = ""
    params: dict = field(default_factory=dict)
    errors: tuple[str, ...] = ()
    q: str = ""
    browser: str = ""
    os: str = ""
    role: str = ""

    @classmethod
    def from_request(cls, request, offered: tuple[str, ...] = PARAMS, now=None) -> ReportFilters:
        """Parse the ``offered`` parameters; bad values become ``errors``, the user's text stays in
        ``params`` for the form. Parameters a page does not offer are ignored."""
        params = {k: request.GET.get(k, "") for k in PARAMS if k in offered}
        errors = []
        period = default_period(now)
        if "period" in offered:
            try:
                period = period_from_params(params, now)
            except PeriodError as exc:
                errors.append(str(exc))
        texts = {}
        for name in TEXT_FILTERS:
            value = params.get(name, "").strip()
            problem = _text_error(name, value)
            if problem:
                errors.append(problem)
                value = ""
            texts[name] = value
        return cls(period=period, params=params, errors=tuple(errors), **texts)

    def sessions(self, qs: QuerySet, period: Period | None = None) -> QuerySet:
        """Room sessions that started in the period (and match the room text)."""
        period = period or self.period
        qs = qs.filter(started_at__gte=period.start, started_at__lt=period.end)
        if self.room:
            qs = qs.filter(room__room_name__icontains=self.room)
        return qs

    def participants(self, qs: QuerySet, period: Period | None = None) -> QuerySet:
        """Connections that joined in the period (and whose room matches the room text)."""
        period = period or self.period
        qs = qs.filter(joined_at__gte=period.start, joined_at__lt=period.end)
        if self.room:
            # The connection's own room (denormalised by the sync): no join through the sessions.
            qs = qs.filter(room__room_name__icontains=self.room)
        return qs

    def connections(self, qs: QuerySet) -> QuerySet:
        """``participants`` narrowed by browser, OS and role (exact; "-" means unknown)."""
        qs = self.participants(qs)
        for name, column in (("browser", "browser"), ("os", "os"), ("role", "role_name")):
            value = getattr(self, name)
            if value == "-":
                qs = qs.filter(Q(**{f"{column}__isnull": True}) | Q(**{column: ""}))
            elif value:
                qs = qs.filter(**{column: value})
        return qs

    def participants_q(self, prefix: str, period: Period | None = None) -> Q:
        """The same test as ``participants`` for a related lookup (``prefix`` ends with ``__``)."""
        period = period or self.period
        q = Q(**{f"{prefix}joined_at__gte": period.start, f"{prefix}joined_at__lt": period.end})
        if self.room:
            q &= Q(**{f"{prefix}room__room_name__icontains": self.room})
        return q

    def querystring(self, **overrides: str) -> str:
        """The current filters as a query string, with some keys replaced (empty drops them)."""
        merged = {**self.params, **overrides}
        if merged.get("period") not in ("", "custom"):
            # A preset ignores the days: keep them out of links so the preset keeps rolling.
            merged = {**merged, "start": "", "end": ""}
        return urlencode({k: v for k, v in merged.items() if v})

    @property
    def form_period(self) -> str:
        """The period the form shows as chosen: what the user asked for, else the one in effect."""
        asked = self.params.get("period", "").strip()
        if not asked and (self.params.get("start") or self.params.get("end")):
            asked = "custom"
        return asked or self.period.preset

    def form_day(self, which: str) -> str:
        """The user's text for ``start``/``end`` when given, else the period's day."""
        if self.params.get(which) and self.form_period == "custom":
            return self.params[which]
        day = self.period.first_day if which == "start" else self.period.last_day
        return day.isoformat()

    @property
    def form_start(self) -> str:
        """``form_day("start")`` for the template."""
        return self.form_day("start")

    @property
    def form_end(self) -> str:
        """``form_day("end")`` for the template."""
        return self.form_day("end")

    def text(self, name: str) -> str:
        """The user's text for a text filter (kept when it was refused)."""
        return self.params.get(name, "")
