"""``manage.py insights_alerts --check``: evaluate every alert rule once and print what is open."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ...alerts.email import one_line
from ...alerts.engine import evaluate, open_alerts
from ...display.times import format_datetime_zoned


class Command(BaseCommand):
    help = "Evaluate the alert rules once (--check) and list the open alerts; exit 1 when any is open."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--check", action="store_true", help="Evaluate every rule now (notifying as the schedule would)."
        )

    def handle(self, *args: Any, check: bool = False, **options: Any) -> None:
        if check:
            try:
                tick = evaluate()
            except Exception as exc:
                raise CommandError(
                    f"could not evaluate the alert rules: {type(exc).__name__}: {exc}"
                ) from None
            self.stdout.write(
                f"Evaluated the rules: {len(tick.raised)} raised, {len(tick.resolved)} resolved."
            )
            if tick.unknown_rules:
                self.stderr.write(f"Could not evaluate: {', '.join(tick.unknown_rules)} (left as they were).")
        alerts = open_alerts(limit=1000)
        if not alerts:
            self.stdout.write(self.style.SUCCESS("No open alerts."))
            return
        for alert in alerts:
            silenced = (
                f" (silenced until {format_datetime_zoned(alert.silenced_until)})"
                if alert.is_silenced()
                else ""
            )
            self.stdout.write(
                f"OPEN {alert.rule} {one_line(alert.subject, 60)}: {one_line(alert.title)} "
                f"since {format_datetime_zoned(alert.first_seen_at)}{silenced}"
            )
        raise SystemExit(1)
