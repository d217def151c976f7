"""Settings for ``make demo``: the demo site's own, tuned for the local simulator when it is in use."""

import os

os.environ.setdefault("INSIGHTS_DEMO", "1")

from project.settings import *  # noqa: F403
from project.settings import WHEREBY_INSIGHTS

if os.environ.get("INSIGHTS_DEMO_SIMULATOR"):
    # The simulator runs on this machine and grants what we ask; a real plan's 100 points a
    # minute would make a first sync of a few thousand sessions take an hour. With a real key
    # (no simulator) the defaults stay: half of the Build plan.
    WHEREBY_INSIGHTS = {
        **WHEREBY_INSIGHTS,
        "PLAN_POINTS_PER_MINUTE": 60_000,
        "RATE_BUDGET_POINTS_PER_MINUTE": 60_000,
        "SCHEDULE_INTERVAL_MINUTES": 1,
        # Our simulator writes packet loss in percent: said here, no item is guessed (a quiet call's
        # loss of 0.4 would otherwise read as a fraction, 40 %) and the unit hint is never needed.
        "PACKET_LOSS_UNIT": "percent",
    }
