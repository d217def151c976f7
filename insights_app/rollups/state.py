"""The rollups' one state row: the zone their days are keyed in and whether pages may read them."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..models import RollupState, RollupStatus


def current_state(alias: str = "default") -> RollupState:
    """The state row (created as "needs a rebuild" when missing)."""
    state = RollupState.objects.using(alias).order_by("pk").first()
    if state is None:
        state = RollupState.objects.using(alias).create(status=RollupStatus.NEEDS_REBUILD)
    return state


def zone_key(zone: object) -> str:
    """The IANA name of a zone (``str`` of a ZoneInfo), as the state stores it."""
    return str(getattr(zone, "key", zone))


def usable_in(state: RollupState, zone: object | None = None) -> bool:
    """Whether the pages of a request in ``zone`` (the current one by default) may read the rollups."""
    zone = zone if zone is not None else timezone.get_current_timezone()
    return state.status == RollupStatus.READY and state.zone == zone_key(zone)


def behind_reason(state: RollupState) -> str:
    """Why the pages read raw rows instead of the rollups, or empty when they do not."""
    if state.status == RollupStatus.REBUILDING:
        return "rebuilding"
    if state.status == RollupStatus.NEEDS_REBUILD:
        return "needs_rebuild"
    if state.zone != zone_key(timezone.get_default_timezone()):
        return "zone_changed"
    return ""


def status_text(state: RollupState, enabled: bool = True, stale_days: int = 0) -> str:
    """What the dashboard says about the rollups: off, up to date (and how many days wait to be
    recomputed), or why and how far behind."""
    if not enabled:
        return str(_("off (WHEREBY_INSIGHTS['ROLLUPS']): report pages read raw rows"))
    reason = behind_reason(state)
    if reason == "rebuilding":
        return str(
            _("rebuilding: %(done)s of %(first)s–%(last)s done; report pages read raw rows until it ends")
            % {
                "done": state.rebuilt_through or _("no day"),
                "first": state.rebuild_first or "…",
                "last": state.rebuild_last or "…",
            }
        )
    if reason == "needs_rebuild":
        return str(_("behind: run insights_rollup --rebuild (report pages read raw rows, slower)"))
    if reason == "zone_changed":
        return str(
            _("behind: built for %(old)s, the site's TIME_ZONE is %(new)s; run insights_rollup --rebuild")
            % {"old": state.zone, "new": zone_key(timezone.get_default_timezone())}
        )
    if stale_days:
        return str(
            ngettext(
                "up to date (days in %(zone)s) but for %(count)s day written since: recomputed at the end of "
                "the sync run or by the first page reading it",
                "up to date (days in %(zone)s) but for %(count)s days written since: recomputed at the end of "
                "the sync run or by the first page reading them",
                stale_days,
            )
            % {"zone": state.zone, "count": stale_days}
        )
    return str(_("up to date (days in %(zone)s)") % {"zone": state.zone})
