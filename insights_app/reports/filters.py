"""The filters every report page reads from its query string, and how they narrow querysets."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db.models import Q, QuerySet

from .periods import Period, period_from_params

MAX_ROOM_FILTER = 200


@dataclass(frozen=True)
class ReportFilters:
    """Date range and room-name text, parsed once per request."""

    period: Period
    room: str = ""
    params: dict = field(default_factory=dict)

    @classmethod
    def from_request(cls, request) -> ReportFilters:
        """Parse ``period/start/end/room``; unknown or bad values fall back to defaults."""
        params = {k: request.GET.get(k, "") for k in ("period", "start", "end", "room")}
        room = params["room"].strip()[:MAX_ROOM_FILTER]
        return cls(period=period_from_params(params), room=room, params=params)

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
        return urlencode({k: v for k, v in merged.items() if v})
