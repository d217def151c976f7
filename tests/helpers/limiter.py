"""Letting the rate budget name the API's limiter before a test measures what it does once it knows."""

from __future__ import annotations

import time
from typing import Any

from insights_app.whereby.client import WherebyClient


def find_the_limiter(client: WherebyClient, budget: Any, spacing: float = 0.7) -> str:
    """Rooms listings spread over a few seconds until ``budget`` has named the limiter (until then every
    call counts as the most it may cost: docs/budget.md); returns the shape."""
    for _ in range(12):
        if budget.shape() != "unknown":
            return budget.shape()
        next(client.iter_room_pages())
        time.sleep(spacing)
    raise AssertionError("the limiter was not found in 12 calls")
