"""One tick: run the rules, open new alerts, touch open ones, resolve cleared ones, notify once."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction

from ..models import Alert
from ..models.clock import db_now
from .delivery import notify
from .rules import Finding, active_rules
from .settings import alert_settings

logger = logging.getLogger(__name__)


@dataclass
class TickResult:
    """What one evaluation changed, and which rules could not tell (their alerts were left alone)."""

    raised: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    still_open: list[Alert] = field(default_factory=list)
    unknown_rules: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """The sizes, for the job's result."""
        return {"raised": len(self.raised), "resolved": len(self.resolved), "open": len(self.still_open)}


def _silenced_until(finding: Finding, now: datetime) -> datetime | None:
    """A silence set on the previous alert of the same rule and subject carries over to a new one."""
    return (
        Alert.objects.filter(rule=finding.rule, subject=finding.subject, silenced_until__gt=now)
        .order_by("-silenced_until")
        .values_list("silenced_until", flat=True)
        .first()
    )


def _open(finding: Finding, now: datetime) -> Alert | None:
    """Insert the alert; None when a concurrent tick opened it first (the database allows one)."""
    try:
        with transaction.atomic():
            return Alert.objects.create(
                rule=finding.rule,
                subject=finding.subject,
                title=finding.title[:300],
                message=finding.message,
                details=finding.details,
                first_seen_at=now,
                last_seen_at=now,
                silenced_until=_silenced_until(finding, now),
            )
    except IntegrityError:
        return None


def _resolve(alert: Alert, now: datetime) -> bool:
    """Mark resolved; True only for the one tick that did it."""
    done = Alert.objects.filter(pk=alert.pk, resolved_at__isnull=True).update(resolved_at=now)
    alert.resolved_at = now
    return bool(done)


def _claim(alert: Alert, now: datetime) -> bool:
    """Stamp a never-notified alert as notified; True only for the one tick that did it."""
    return bool(Alert.objects.filter(pk=alert.pk, notified_at__isnull=True).update(notified_at=now))


def _findings() -> tuple[dict[str, list[Finding] | None], set[str]]:
    values = alert_settings()
    rules = active_rules(values)
    results: dict[str, list[Finding] | None] = {}
    for name, rule in rules.items():
        try:
            results[name] = rule(values)
        except Exception:
            logger.exception("alert rule %s could not be evaluated", name)
            results[name] = None
    return results, set(rules)


def evaluate() -> TickResult:
    """Evaluate every active rule once and bring the alerts in line; notifications go out once."""
    results, active = _findings()
    now = db_now()  # a silence is set on a web host and judged here: the database's clock
    tick = TickResult(unknown_rules=sorted(name for name, found in results.items() if found is None))
    open_alerts = {(a.rule, a.subject): a for a in Alert.objects.filter(resolved_at__isnull=True)}
    touched: list[Alert] = []
    current: set[tuple[str, str]] = set()
    for name, found in results.items():
        for finding in found or []:
            key = (name, finding.subject)
            current.add(key)
            alert = open_alerts.get(key)
            if alert is None:
                alert = _open(finding, now)
                if alert is not None:
                    tick.raised.append(alert)
                continue
            alert.last_seen_at = now
            alert.title, alert.message, alert.details = finding.title[:300], finding.message, finding.details
            touched.append(alert)
    if touched:
        Alert.objects.bulk_update(touched, ["last_seen_at", "title", "message", "details"])
    for key, alert in open_alerts.items():
        rule = key[0]
        unknown = rule in results and results[rule] is None
        if key in current or unknown:
            continue
        # Cleared, or its rule was switched off (nobody watches it any more).
        if _resolve(alert, now):
            tick.resolved.append(alert)
    tick.still_open = [a for a in open_alerts.values() if a not in tick.resolved] + tick.raised
    sent: dict[str, bool] = {}  # what the tick's notifications learn about the channels
    for alert in tick.raised:
        if not alert.is_silenced(now):
            notify(alert, "raised", sent)
    for alert in touched:
        # Opened while silenced and still open when the silence ended: tell people now, once.
        if alert.notified_at is None and not alert.is_silenced(now) and _claim(alert, now):
            notify(alert, "raised", sent)
    for alert in tick.resolved:
        if alert.notified_at and not alert.is_silenced(now) and alert.rule in active:
            notify(alert, "resolved", sent)
    return tick


def open_alerts(limit: int = 20) -> list[Alert]:
    """The open alerts, newest first (for the panels and the command)."""
    return list(Alert.objects.filter(resolved_at__isnull=True).order_by("-last_seen_at")[:limit])
