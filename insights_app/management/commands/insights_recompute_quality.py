"""``manage.py insights_recompute_quality``: refresh quality summaries from stored samples (no API calls)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ...sync.recompute import SyncInProgress, recompute_quality


class Command(BaseCommand):
    help = (
        "Recompute every connection's network-quality summary from the samples already stored, after "
        "changing DEGRADED_PACKET_LOSS_PERCENT, DEGRADED_MIN_SECONDS or PACKET_LOSS_UNIT. Calls no API."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = recompute_quality()
        except SyncInProgress as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Recomputed {result.details} detail items of {result.participants} connections"
                + (
                    f"; {result.reread_unit} items re-read in the declared loss unit"
                    if result.reread_unit
                    else ""
                )
            )
        )
