"""``manage.py insights_forget --external-id X | --user-id U | --display-name N [--dry-run]``."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...privacy.erasure import ErasureError, forget_person


class Command(BaseCommand):
    help = (
        "Erase one person's personal data (connections, detail rows, raw payloads, presence): pseudonymise "
        "or delete as ERASURE_MODE says, and keep them forgotten in later syncs. The value is never printed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--external-id", help="the externalId the person joined with")
        who.add_argument("--user-id", help="Whereby's userId of the person")
        who.add_argument("--display-name", help="the exact display name")
        parser.add_argument("--dry-run", action="store_true", help="count what would change; change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        kind, value = next(
            (k, options[k]) for k in ("external_id", "user_id", "display_name") if options[k] is not None
        )
        try:
            result = forget_person(
                kind, value, dry_run=options["dry_run"], trigger="command", actor=_who_runs_this()
            )
        except ErasureError as exc:
            raise CommandError(str(exc)) from None
        if not (result.participants or result.details or any(result.other_rows.values())):
            self._nothing_matched(kind, result.dry_run)
            return
        other = "".join(f", {count} {label}" for label, count in sorted(result.other_rows.items()))
        verb = (
            "Would " + ("delete" if result.mode == "delete" else "pseudonymise")
            if result.dry_run
            else ("Deleted" if result.mode == "delete" else "Pseudonymised")
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {result.participants} connections and {result.details} detail rows{other} "
                f"for {kind.replace('_', ' ')} #{result.criterion_hash[:12]}"
                + (" (dry run: nothing changed)" if result.dry_run else "; recorded so later syncs keep it")
            )
        )

    def _nothing_matched(self, kind: str, dry_run: bool) -> None:
        """No row names this value: say so, and what to check (the value itself is never printed)."""
        label = kind.replace("_", " ")
        others = ", ".join(
            f"--{k.replace('_', '-')}" for k in ("external_id", "user_id", "display_name") if k != kind
        )
        self.stdout.write(
            self.style.WARNING(
                f"Nothing matched: no stored connection, detail row or payload has this {label}"
                + (" (dry run: nothing changed)." if dry_run else ".")
            )
        )
        self.stdout.write(
            f"Check: the {label} is matched exactly (case, spaces); the person's sessions are synced "
            f"(insights_sync, or the admin's sync runs); or the person is known by another value ({others})."
            + ("" if dry_run else " The value is recorded anyway, so later syncs keep it out.")
        )


def _who_runs_this() -> str:
    """The operating-system user running the command, for the audit's "who"."""
    try:
        return f"command ({getpass.getuser()})"
    except (KeyError, OSError):  # no passwd entry (containers)
        return "command"
