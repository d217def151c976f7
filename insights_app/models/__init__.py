"""The app's models: synced Whereby data, the record of each sync, and webhook events with live presence."""

from .admin_entries import OverviewReport, PeopleReport, QualityReport, SyncDashboard
from .alert import Alert, AlertRule
from .participant import Participant
from .participant_detail import PacketLossUnit, ParticipantDetail
from .privacy import CriterionKind, PersonTombstone, PrivacyAction, PrivacyAudit
from .rollups import (
    PeopleYearRollup,
    PersonDayRollup,
    PersonYearRollup,
    QualityDayRollup,
    RollupStaleDay,
    RollupState,
    RollupStatus,
    RoomDayRollup,
    RoomHourRollup,
    RoomQualityDayRollup,
    UsageHourRollup,
)
from .room import Room
from .room_session import RoomSession
from .sync_run import (
    ACTIVE_STATUSES,
    COUNT_KINDS,
    SYNCED_MODELS,
    SyncKind,
    SyncRun,
    SyncStatus,
    SyncTrigger,
)
from .usage import UsageTotals
from .webhooks import LiveConnection, LiveRoom, WebhookEvent, WebhookOutcome, WebhookRejection

__all__ = [
    "ACTIVE_STATUSES",
    "COUNT_KINDS",
    "SYNCED_MODELS",
    "Alert",
    "AlertRule",
    "CriterionKind",
    "LiveConnection",
    "LiveRoom",
    "OverviewReport",
    "PacketLossUnit",
    "Participant",
    "ParticipantDetail",
    "PeopleReport",
    "PeopleYearRollup",
    "PersonDayRollup",
    "PersonTombstone",
    "PersonYearRollup",
    "PrivacyAction",
    "PrivacyAudit",
    "QualityDayRollup",
    "QualityReport",
    "RollupStaleDay",
    "RollupState",
    "RollupStatus",
    "Room",
    "RoomDayRollup",
    "RoomHourRollup",
    "RoomQualityDayRollup",
    "RoomSession",
    "SyncDashboard",
    "SyncKind",
    "SyncRun",
    "SyncStatus",
    "SyncTrigger",
    "UsageHourRollup",
    "UsageTotals",
    "WebhookEvent",
    "WebhookOutcome",
    "WebhookRejection",
]
