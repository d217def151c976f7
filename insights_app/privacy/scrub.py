"""What pseudonymising one connection means, column by column and key by key of ``raw``.

Kept: every number and time, the role, the rating and its tags (Whereby's fixed vocabulary), the
browser/OS/device family and version. Replaced by pseudonyms: display name, user id, device id,
external id. Dropped: the free-text comment, the full user agent and any ``raw`` key we do not
know (a field Whereby adds later may be personal; we cannot tell, so it goes).
"""

from __future__ import annotations

from typing import Any

from .pseudonyms import maybe_pseudonym

# Participant columns and the raw keys that hold them.
PSEUDONYMISED_COLUMNS = ("display_name", "user_id", "device_id", "external_id")
DROPPED_COLUMNS = ("comment",)
PARTICIPANT_RAW_KEPT = ("roomSessionId", "participantId", "roleName", "joinedAt", "leftAt", "rating", "tags")
PARTICIPANT_RAW_PSEUDONYMISED = ("displayName", "userId", "deviceId", "externalId")

DETAIL_PSEUDONYMISED_COLUMNS = ("display_name",)
DETAIL_DROPPED_COLUMNS = ("user_agent",)
DETAIL_RAW_KEPT = ("userRole", "timeStamp", "sampleRateMs", "events", "samples")
DETAIL_RAW_PSEUDONYMISED = ("displayName",)


def _scrub_raw(raw: Any, kept: tuple[str, ...], pseudonymised: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return {}
    clean = {k: raw[k] for k in kept if k in raw}
    clean.update({k: maybe_pseudonym(raw[k]) for k in pseudonymised if k in raw})
    return clean


def _scrub(
    values: dict[str, Any],
    pseudonymised: tuple[str, ...],
    dropped: tuple[str, ...],
    raw_kept: tuple[str, ...],
    raw_pseudonymised: tuple[str, ...],
) -> dict[str, Any]:
    """``values`` with the ``pseudonymised`` columns pseudonymised, ``dropped`` ones nulled, ``raw`` cut."""
    clean = dict(values)
    for column in pseudonymised:
        if column in clean:
            clean[column] = maybe_pseudonym(clean[column])
    for column in dropped:
        if column in clean:
            clean[column] = None
    if "raw" in clean:
        clean["raw"] = _scrub_raw(clean["raw"], raw_kept, raw_pseudonymised)
    return clean


def scrub_participant(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (participant columns incl. ``raw``) with personal fields pseudonymised or dropped.

    Columns not present in ``values`` stay absent; applying it twice changes nothing.
    """
    return _scrub(
        values,
        PSEUDONYMISED_COLUMNS,
        DROPPED_COLUMNS,
        PARTICIPANT_RAW_KEPT,
        PARTICIPANT_RAW_PSEUDONYMISED,
    )


def scrub_detail(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (detail columns incl. ``raw``) with the display name pseudonymised and the user agent dropped."""
    return _scrub(
        values,
        DETAIL_PSEUDONYMISED_COLUMNS,
        DETAIL_DROPPED_COLUMNS,
        DETAIL_RAW_KEPT,
        DETAIL_RAW_PSEUDONYMISED,
    )
