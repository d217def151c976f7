"""The rollups' one state row: the zone their days are keyed in and whether pages may read them."""

from __future__ import annotations

from django.utils import timezone

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
