"""``manage.py insights_simulator``: serve a simulated Whereby Insights API until Ctrl-C."""

from __future__ import annotations

import argparse
import math
import os
import secrets
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from insights_app.simulator import FaultConfig, OrgSpec, SimulatorServer, generate_organisation
from insights_app.simulator.background import BACKGROUND_PATTERNS
from insights_app.simulator.limiters import LIMITERS
from insights_app.simulator.rateheaders import RATE_HEADER_MODES
from insights_app.simulator.ratelimit import MAX_COST, MIN_COST, REALISTIC_COSTS
from insights_app.simulator.timefmt import parse_instant, to_datetime
from insights_app.simulator.webhooks import WebhookFaults, WebhookSender

LEDGER_KEEP_SECONDS = 3600.0
# More than this many connections would take minutes and gigabytes to generate: refuse up front.
MAX_CONNECTIONS = 5_000_000


def finite_float(text: str) -> float:
    """A float flag: ``nan`` and ``inf`` are refused (argparse names the flag in its error)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, not {text!r}")
    return value


def instant(text: str) -> str:
    """An ISO-8601 ``--now`` (``2026-11-01T12:00:00Z``), checked before anything is generated."""
    try:
        to_datetime(parse_instant(text))
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(
            f"expected an ISO-8601 instant such as 2026-11-01T12:00:00Z, not {text!r}"
        ) from None
    return text


# What --realistic sets, unless the flag itself is given (the API as organisations meet it).
REALISTIC = {"lag_minutes": 12.0, "guests_without_user_id": 0.3, "redacted_rooms": 0.1}


class Command(BaseCommand):
    """Generate an organisation, serve it over HTTP, print the base URL and a key hint."""

    help = "Serve a simulated Whereby Insights API (for the demo, tests and benchmarks)."
    requires_system_checks = []  # the simulator needs none of the app's settings

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--rooms", type=int, default=40)
        parser.add_argument("--sessions-per-room", type=finite_float, default=50)
        parser.add_argument("--participants-per-session", type=finite_float, default=5)
        parser.add_argument("--days", type=finite_float, default=60)
        parser.add_argument("--max-samples", type=int, default=900)
        parser.add_argument(
            "--now", type=instant, default=None, help="generation instant (ISO-8601); default: the real time"
        )
        parser.add_argument(
            "--api-key", default=None, help="default: $WHEREBY_API_KEY, else a printed demo key"
        )
        parser.add_argument(
            "--points-per-minute", type=int, default=None, help="rate budget; default unlimited"
        )
        parser.add_argument("--window-seconds", type=finite_float, default=60.0)
        parser.add_argument(
            "--live", action="store_true", help="new sessions keep starting as wall time passes"
        )
        parser.add_argument(
            "--speed", type=finite_float, default=1.0, help="simulated seconds per wall second (--live)"
        )
        parser.add_argument("--no-hostile-names", action="store_true")
        parser.add_argument("--no-ratings", action="store_true")
        parser.add_argument(
            "--realistic",
            action="store_true",
            help="the real API's habits: 12 minutes of lag, points per endpoint "
            f"({_costs_text(REALISTIC_COSTS)}), "
            "30%% of guests without userId, 10%% of rooms with names stripped",
        )
        parser.add_argument(
            "--endpoint-cost",
            action="append",
            default=[],
            metavar="ENDPOINT=POINTS",
            help=f"points a call costs ({MIN_COST}-{MAX_COST}), e.g. participant=1 or /insights/rooms=3 "
            "(repeatable; default 1)",
        )
        parser.add_argument(
            "--background-points-per-minute",
            type=finite_float,
            default=0.0,
            help="points per minute the customer's product spends from the same budget",
        )
        parser.add_argument(
            "--background-pattern",
            choices=BACKGROUND_PATTERNS,
            default="random",
            help="when the product's points are spent: at random moments (default), evenly spaced, "
            "or in bursts",
        )
        parser.add_argument(
            "--limiter",
            choices=LIMITERS,
            default="fixed",
            help="the limit's shape: a fixed window that resets (default), a sliding window over the "
            "last --window-seconds, or a token bucket refilled at the limit per --window-seconds",
        )
        parser.add_argument(
            "--rate-headers",
            choices=RATE_HEADER_MODES,
            default="normal",
            help="X-RateLimit-* headers on a share of answers: true (normal), left off (missing), "
            "unreadable (nonsense) or well-formed but wrong (lying)",
        )
        parser.add_argument(
            "--rate-header-share",
            type=finite_float,
            default=0.1,
            help="share of answers --rate-headers spoils (0..1, default 0.1)",
        )
        parser.add_argument(
            "--lag-minutes", type=finite_float, default=None, help="insights appear this late (default 0)"
        )
        parser.add_argument(
            "--lag-spread-minutes",
            type=finite_float,
            default=0.0,
            help="each session's lag is drawn (seeded) from lag .. lag + this (default 0)",
        )
        parser.add_argument(
            "--lag-outlier-share",
            type=finite_float,
            default=0.0,
            help="share of sessions whose insights wait --lag-outlier-minutes instead (default 0)",
        )
        parser.add_argument("--lag-outlier-minutes", type=finite_float, default=60.0)
        parser.add_argument(
            "--guests-without-user-id",
            type=finite_float,
            default=None,
            help="share of guests with userId null",
        )
        parser.add_argument(
            "--redacted-rooms",
            type=finite_float,
            default=None,
            help="share of rooms whose display names are stripped",
        )
        parser.add_argument("--error-rate", type=finite_float, default=0.0)
        parser.add_argument("--error-status", type=int, default=500)
        parser.add_argument("--latency-ms", type=int, default=0)
        parser.add_argument("--malformed-json-rate", type=finite_float, default=0.0)
        parser.add_argument("--truncated-rate", type=finite_float, default=0.0)
        parser.add_argument("--drop-connection-rate", type=finite_float, default=0.0)
        parser.add_argument("--html-error-rate", type=finite_float, default=0.0)
        parser.add_argument(
            "--trickle-rate", type=finite_float, default=0.0, help="share of answers sent a byte at a time"
        )
        parser.add_argument("--trickle-interval-ms", type=int, default=1000)
        parser.add_argument(
            "--webhook-url",
            default=None,
            help="post signed webhook events of the live activity here (--live)",
        )
        parser.add_argument(
            "--webhook-secret", default=None, help="signing secret; default: $WHEREBY_WEBHOOK_SECRET"
        )
        parser.add_argument("--webhook-duplicate-rate", type=finite_float, default=0.0)
        parser.add_argument(
            "--webhook-reorder-rate", type=finite_float, default=0.0, help="events sent out of order"
        )
        parser.add_argument("--webhook-delay-ms", type=int, default=0, help="wait before each delivery")
        parser.add_argument("--webhook-bad-signature-rate", type=finite_float, default=0.0)

    def handle(self, *args: Any, **options: Any) -> None:
        server = self.build_server(options)
        # Served for hours or days (the demo): the ledger keeps the last hour of points, not all.
        server.ledger.keep_seconds = LEDGER_KEEP_SECONDS
        sender = self.build_webhook_sender(server, options)
        stop = threading.Event()
        server.start()
        # Everything after the start inside the try: a Ctrl-C that lands while the banner is printed (the
        # first request may already be served) stops the server as cleanly as one during the wait.
        try:
            if sender is not None:
                sender.start()
                self.stdout.write(f"Posting signed webhook events to {sender.url}")
            stats = server.organisation.stats()
            self.stdout.write(f"Whereby Insights simulator at {server.base_url}")
            self.stdout.write(
                f"{stats['rooms']} rooms, {stats['sessions']} sessions, {stats['connections']} connections"
                f"{' (live, x' + str(options['speed']) + ')' if options['live'] else ''}"
            )
            spec = server.organisation.spec
            if spec.lag_minutes or server.endpoint_costs or server.background_points_per_minute:
                costs = _costs_text(server.endpoint_costs)
                self.stdout.write(
                    f"lag {spec.lag_minutes:g}-{spec.lag_minutes + spec.lag_spread_minutes:g} min; costs {costs or 'all 1'}; "
                    f"product spends {server.background_points_per_minute:g} points/min "
                    f"({server.background_pattern})"
                )
            if server.points_per_minute is not None:
                self.stdout.write(
                    f"limit {server.points_per_minute} points per {server.window_seconds:g} s, "
                    f"{server.limiter} limiter; rate headers {options['rate_headers']}"
                )
            self.stdout.write(self.key_hint)
            self.stdout.write("Ctrl-C to stop.")
            self.stdout.flush()
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            if sender is not None:
                sender.stop()
            server.stop()

    def build_webhook_sender(self, server: SimulatorServer, options: dict[str, Any]) -> WebhookSender | None:
        """The webhook poster for ``--webhook-url``, or None; the secret is never printed."""
        url = options.get("webhook_url")
        if not url:
            return None
        secret = options.get("webhook_secret") or os.environ.get("WHEREBY_WEBHOOK_SECRET")
        if not secret:
            raise CommandError("--webhook-url needs --webhook-secret (or WHEREBY_WEBHOOK_SECRET)")
        if not options["live"]:
            raise CommandError("--webhook-url needs --live: webhooks announce live activity")
        try:
            faults = WebhookFaults(
                duplicate_rate=options["webhook_duplicate_rate"],
                reorder_rate=options["webhook_reorder_rate"],
                delay_ms=options["webhook_delay_ms"],
                bad_signature_rate=options["webhook_bad_signature_rate"],
                seed=options["seed"],
            )
            return WebhookSender(server.organisation, url, secret, faults)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc

    def build_server(self, options: dict[str, Any]) -> SimulatorServer:
        """Validate the flags and build (but do not start) the server."""
        if not 0 <= options["port"] <= 65535:
            raise CommandError("--port must be between 0 and 65535")
        if options["speed"] <= 0:
            raise CommandError("--speed must be > 0")
        if options["points_per_minute"] is not None and options["points_per_minute"] < 1:
            raise CommandError("--points-per-minute must be >= 1")
        if options["window_seconds"] <= 0:
            raise CommandError("--window-seconds must be > 0")
        connections = options["rooms"] * options["sessions_per_room"] * options["participants_per_session"]
        if connections > MAX_CONNECTIONS:
            raise CommandError(
                f"--rooms x --sessions-per-room x --participants-per-session asks for {connections:.0f} "
                f"connections; at most {MAX_CONNECTIONS:,} can be generated"
            )
        if options["background_points_per_minute"] < 0:
            raise CommandError("--background-points-per-minute must be >= 0")
        if not 0 <= options["rate_header_share"] <= 1:
            raise CommandError("--rate-header-share must be between 0 and 1")
        realism = {
            name: options[name] if options[name] is not None else (value if options["realistic"] else 0.0)
            for name, value in REALISTIC.items()
        }
        costs = dict(REALISTIC_COSTS) if options["realistic"] else {}
        costs.update(_parse_costs(options["endpoint_cost"]))
        try:
            spec = OrgSpec(
                seed=options["seed"],
                rooms=options["rooms"],
                sessions_per_room=options["sessions_per_room"],
                participants_per_session=options["participants_per_session"],
                days=options["days"],
                max_samples=options["max_samples"],
                now=options["now"] or _real_now(),
                live=options["live"],
                hostile_names=not options["no_hostile_names"],
                ratings=not options["no_ratings"],
                lag_spread_minutes=options["lag_spread_minutes"],
                lag_outlier_share=options["lag_outlier_share"],
                lag_outlier_minutes=options["lag_outlier_minutes"],
                **realism,
            )
            faults = FaultConfig(
                error_rate=options["error_rate"],
                error_status=options["error_status"],
                latency_ms=options["latency_ms"],
                malformed_json_rate=options["malformed_json_rate"],
                truncated_rate=options["truncated_rate"],
                drop_connection_rate=options["drop_connection_rate"],
                html_error_rate=options["html_error_rate"],
                trickle_rate=options["trickle_rate"],
                trickle_interval_ms=options["trickle_interval_ms"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        key = options["api_key"]
        if key:
            self.key_hint = "API key: the one given with --api-key (not shown)."
        elif os.environ.get("WHEREBY_API_KEY"):
            key = os.environ["WHEREBY_API_KEY"]
            self.key_hint = "API key: taken from WHEREBY_API_KEY (not shown)."
        else:
            # A throwaway key made up here protects nothing real, so it may be shown.
            key = f"demo-{secrets.token_hex(12)}"
            self.key_hint = f"API key (demo, made up for this run): {key}"
        return SimulatorServer(
            generate_organisation(spec),
            api_key=key,
            host=options["host"],
            port=options["port"],
            points_per_minute=options["points_per_minute"],
            faults=faults,
            window_seconds=options["window_seconds"],
            realtime=options["live"],
            speed=options["speed"],
            endpoint_costs=costs,
            background_points_per_minute=options["background_points_per_minute"],
            background_pattern=options["background_pattern"],
            limiter=options["limiter"],
            rate_headers=options["rate_headers"],
            rate_header_share=options["rate_header_share"],
        )


def _costs_text(costs: dict[str, int]) -> str:
    """``rooms=3, participant=1`` for humans."""
    return ", ".join(f"{path.rsplit('/', 1)[1]}={points}" for path, points in costs.items())


def _parse_costs(values: list[str]) -> dict[str, int]:
    """``--endpoint-cost`` values as {"/insights/<endpoint>": points}."""
    costs = {}
    known = {path.rsplit("/", 1)[1]: path for path in REALISTIC_COSTS}
    for value in values:
        name, _, points = value.partition("=")
        path = known.get(name.strip().rsplit("/", 1)[-1])
        if path is None or not points.strip().isdigit() or not MIN_COST <= int(points) <= MAX_COST:
            raise CommandError(
                f"--endpoint-cost {value!r}: expected ENDPOINT=POINTS with ENDPOINT one of "
                f"{', '.join(known)} and POINTS a whole number from {MIN_COST} to {MAX_COST}"
            )
        costs[path] = int(points)
    return costs


def _real_now() -> str:
    """The wall clock, for a demo that shows today's data."""
    return timezone.now().isoformat()
