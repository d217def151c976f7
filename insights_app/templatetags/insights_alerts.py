"""``{% insights_open_alerts as name %}``: the open alerts the current user may see, for the panels."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

from ..alerts.links import cause_url
from ..models import Alert
from ..models.alert import silenced_now

register = template.Library()
PANEL_LIMIT = 10


@register.simple_tag(takes_context=True)
def insights_open_alerts(context: Any) -> dict[str, Any]:
    """Open alerts (newest first, at most ten) with their cause links; empty without view permission."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("insights_app.view_alert"):
        return {"alerts": [], "total": 0, "list_url": None}
    open_alerts = (
        Alert.objects.filter(resolved_at__isnull=True)
        .annotate(silenced_now=silenced_now())
        .order_by("-last_seen_at")
    )
    rows = list(open_alerts[: PANEL_LIMIT + 1])
    try:
        list_url = reverse("admin:insights_app_alert_changelist") + "?state=open"
    except NoReverseMatch:
        list_url = None
    total = len(rows) if len(rows) <= PANEL_LIMIT else open_alerts.count()
    return {
        "alerts": [{"alert": a, "url": cause_url(a)} for a in rows[:PANEL_LIMIT]],
        "total": total,
        "list_url": list_url,
    }
