"""The alerts' entry in the rqcron schedule (insights_app.cron)."""

from __future__ import annotations

from typing import Any

from ..conf import get_settings
from .settings import alert_settings


def alerts_schedule() -> dict[str, Any]:
    """Keyword arguments for ``rq.cron.register`` of the alert tick."""
    values = alert_settings()
    return {
        "queue_name": values["QUEUE"] or get_settings().QUEUE,
        "interval": int(values["CHECK_INTERVAL_SECONDS"]),
        "name": "insights-alerts",
        "job_timeout": 300,
    }
