"""What every contender process shares: the result line it prints for ``bench_peers.py``."""

from __future__ import annotations

import json
import resource
import sys
from typing import Any

RESULT_PREFIX = "BENCH-RESULT "


def peak_rss_mib() -> float:
    """This process's peak resident set size (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(seconds: float, rows: dict[str, int], **extra: Any) -> None:
    """Print the one line ``bench_peers.py`` reads back: time, row counts and peak memory."""
    payload = {"seconds": seconds, "rows": rows, "peak_rss_mib": peak_rss_mib(), **extra}
    print(RESULT_PREFIX + json.dumps(payload), flush=True)
    sys.stdout.flush()
