"""The demo's choice of how the simulated API limits: shape, costs, the product's spend, rate headers."""

from __future__ import annotations

import argparse
import os

# The simulator's own choices (insights_app.simulator: limiters.LIMITERS, background.BACKGROUND_PATTERNS,
# rateheaders.RATE_HEADER_MODES), repeated so the demo starts without importing Django; a test
# keeps them equal.
LIMITERS = ("fixed", "sliding", "bucket")
BACKGROUND_PATTERNS = ("random", "even", "bursty")
RATE_HEADER_MODES = ("normal", "missing", "nonsense", "lying")


def add_api_arguments(group: argparse._ArgumentGroup) -> None:
    """How the simulated API limits: each flag also reads a DEMO_* variable; defaults keep the demo fast."""
    env = os.environ.get
    group.add_argument(
        "--points-per-minute",
        type=int,
        default=env("DEMO_POINTS_PER_MINUTE") or None,
        help="the organisation's limit (DEMO_POINTS_PER_MINUTE); default unlimited",
    )
    group.add_argument(
        "--limiter",
        choices=LIMITERS,
        default=env("DEMO_LIMITER", "fixed"),
        help="the limit's shape (DEMO_LIMITER): fixed window, sliding window or token bucket",
    )
    group.add_argument(
        "--background-points-per-minute",
        type=float,
        default=float(env("DEMO_BACKGROUND_POINTS_PER_MINUTE") or 0),
        help="what the customer's own product spends from the same budget (DEMO_BACKGROUND_POINTS_PER_MINUTE)",
    )
    group.add_argument(
        "--background-pattern",
        choices=BACKGROUND_PATTERNS,
        default=env("DEMO_BACKGROUND_PATTERN", "random"),
        help="when the product spends (DEMO_BACKGROUND_PATTERN)",
    )
    group.add_argument(
        "--endpoint-cost",
        action="append",
        default=[item for item in (env("DEMO_ENDPOINT_COSTS") or "").split(",") if item.strip()],
        metavar="ENDPOINT=POINTS",
        help="points per call, 1-10, repeatable (DEMO_ENDPOINT_COSTS=rooms=3,participant=1); "
        "default the simulator's --realistic costs",
    )
    group.add_argument(
        "--rate-headers",
        choices=RATE_HEADER_MODES,
        default=env("DEMO_RATE_HEADERS", "normal"),
        help="spoil the X-RateLimit-* headers of a share of answers (DEMO_RATE_HEADERS)",
    )
    group.add_argument(
        "--rate-header-share",
        type=float,
        default=float(env("DEMO_RATE_HEADER_SHARE") or 0.1),
        help="the share --rate-headers spoils (DEMO_RATE_HEADER_SHARE)",
    )


def simulator_api_flags(args: argparse.Namespace) -> list[str]:
    """The insights_simulator flags for the rate-limit options chosen."""
    flags = ["--limiter", args.limiter, "--background-pattern", args.background_pattern]
    flags += ["--background-points-per-minute", f"{args.background_points_per_minute:g}"]
    flags += ["--rate-headers", args.rate_headers, "--rate-header-share", f"{args.rate_header_share:g}"]
    if args.points_per_minute is not None:
        flags += ["--points-per-minute", str(args.points_per_minute)]
    for cost in args.endpoint_cost:
        flags += ["--endpoint-cost", cost.strip()]
    return flags
