"""The rate budget in plain words, the same on the dashboard and in the command."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from .numbers import format_int, points_text


def limiter_text(snapshot: dict[str, Any]) -> str:
    """The limiter found, or that it is not known yet and what the budget assumes meanwhile."""
    names = {"fixed": _("fixed window"), "sliding": _("sliding window"), "bucket": _("token bucket")}
    if snapshot.get("limiter") in names:
        return names[snapshot["limiter"]]
    return _("not known yet: pacing as if every call cost %(points)s points") % {
        "points": points_text(snapshot.get("cautious_points"))
    }


def spent_text(snapshot: dict[str, Any]) -> str:
    """One figure for what we spent in the last 60 s (every process), one for our share."""
    spent, share = snapshot.get("spent_last_minute"), snapshot.get("points_per_minute")
    used = f" ({round(100 * spent / share)} %)" if spent is not None and share else ""
    return _("%(spent)s points spent by us in the last 60 s, of our share of %(share)s a minute%(used)s") % {
        "spent": points_text(spent),
        "share": points_text(share),
        "used": used,
    }


def costs_text(snapshot: dict[str, Any]) -> str:
    """Points per call by endpoint, each marked learned or assumed (the most a call may cost)."""
    marks = {"learned": _("learned"), "assumed": _("assumed until learned")}
    sources = snapshot.get("cost_sources", {})
    parts = [
        f"{endpoint} {points_text(points)} ({marks.get(sources.get(endpoint, ''), _('learned'))})"
        for endpoint, points in snapshot.get("points_per_call", {}).items()
    ]
    return ", ".join(parts) if parts else _("none called yet")


def rejected_text(snapshot: dict[str, Any]) -> str:
    """How many answers' rate headers were not believed, and the last reasons ("" when none)."""
    count = snapshot.get("rejected_count") or 0
    if not count:
        return ""
    return _("%(count)s answers' rate headers not believed (last: %(reasons)s)") % {
        "count": format_int(count),
        "reasons": "; ".join(snapshot.get("rejected", [])[-3:]),
    }


def budget_lines(snapshot: dict[str, Any]) -> dict[str, str]:
    """Every text above, keyed as the dashboard's live refresh reads them."""
    return {
        "spent_text": spent_text(snapshot),
        "limiter_text": limiter_text(snapshot),
        "costs_text": costs_text(snapshot),
        "rejected_text": rejected_text(snapshot),
    }


def points_charged_text(run: Any) -> str:
    """A run's points: what the API charged (an estimate said to be one), and what the budget reserved
    against our share when that differs (the most a call may cost until its cost is known)."""
    values = {
        "points": format_int(run.api_points),
        "estimated": format_int(run.api_points_estimated),
        "reserved": format_int(run.api_points_reserved),
    }
    if run.api_points_estimated:
        text = _(
            "about %(points)s points charged (%(estimated)s of them estimated: the limiter or a cost "
            "was not known yet)"
        )
    else:
        text = _("%(points)s points charged")
    if run.api_points_reserved != run.api_points:
        text += _(", %(reserved)s reserved by the budget")
    return text % values
