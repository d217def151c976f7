"""RQ entry point of the retention schedule (registered in insights_app.cron)."""

from __future__ import annotations

from django.db import close_old_connections

from ..site import this_site_only
from .retention import run_retention

# A pass stops after this long and the next scheduled one carries on: batches commit one by one.
JOB_SECONDS = 45 * 60


@this_site_only
def retention_job() -> int:
    """Cron job: pseudonymise connections past PERSONAL_DATA_RETENTION_DAYS; returns how many."""
    close_old_connections()
    try:
        return run_retention(max_seconds=JOB_SECONDS, trigger="schedule").participants
    finally:
        close_old_connections()
