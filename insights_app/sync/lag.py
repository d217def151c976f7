"""The API's data lag as observed through webhooks: from a ``room.session.ended`` event to the first
answer showing that session ended, kept in Redis (every process sees it) and read as a high percentile.

Each observation is an interval: the first answer that showed the session ended (``hi``, seconds
after the event) and, when one came before, the last answer that still showed it running (``lo``).
An answer showing it ended at the first look says only that the lag is at most ``hi``; one that
followed a look a minute earlier says where the lag is. Those close observations, when there are
any, decide the learned lag; a check that comes on time confirms it and teaches nothing, so now and
then a session is looked at a little earlier (a probe, see ``first_look``) to keep them recent.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import redis

from ..conf import CAUTIOUS_DATA_LAG_MINUTES, get_settings
from ..conf import lookback_minutes as lookback
from ..redis_clients import queue_redis
from ..whereby.budget.shared import budget_key
from .clock import redis_now

logger = logging.getLogger(__name__)

# A list of [lo seconds | null, hi seconds, observed at (epoch seconds)], newest first. The lag is the
# organisation's: named, as its rate budget is, by a digest of the API key and base URL.
KEY = "insights:lag-observed:{}"
KEEP = 200  # the last 200 sessions observed (no age limit): the lag changes with Whereby's load
QUANTILE = 0.9
# Bounds of the learned lag: Whereby promises none, and an hour-long outlier must not hold every
# room sync back an hour (the catch-up follows such a session; the safety net reads it after).
MIN_LAG = timedelta(0)
MAX_LAG = timedelta(minutes=60)
# An observation is close when the last look that missed it was at most this long before the hit.
CLOSE = timedelta(minutes=2)
# Close observations wanted among recent ones, and how long one stays recent before a new probe.
CLOSE_WANTED = 1
CLOSE_FRESH_FOR = timedelta(hours=24)
# A probe looks this much earlier than the learned lag, then every minute until the session shows.
PROBE_EARLIER = timedelta(minutes=2)
# Before anything is learned (DATA_LAG_MINUTES "auto"): what the lookback assumes. Whereby documents
# a 10-15 minute lag, so the incremental sync re-reads the last 15 minutes plus its interval.
CAUTIOUS_DATA_LAG = timedelta(minutes=CAUTIOUS_DATA_LAG_MINUTES)
# ... and the first look at a session's room (WEBHOOK_SYNC_DELAY_MINUTES "auto"): the low end of
# Whereby's 10-15 minutes, then further apart (catchup.BACKOFF_MINUTES) until the session shows ended;
# a session found ended at the first look makes the next start from the bottom (FIRST_STEP).
CAUTIOUS_FIRST_LOOK = timedelta(minutes=10)
# When every look so far found its session ended at once, the next one starts this soon after the end.
FIRST_STEP = timedelta(minutes=1)
REDIS_TIMEOUT = 2.0
# The settings that may follow the lag observed ("auto").
SETTINGS = ("DATA_LAG_MINUTES", "WEBHOOK_SYNC_DELAY_MINUTES")


@dataclass(frozen=True)
class LagFigures:
    """What the observations say: how many, their median and p90, and the lag learned from them."""

    sessions: int
    close: int
    median: timedelta | None
    p90: timedelta | None
    learned: timedelta | None
    needs_probe: bool
    probe_from: timedelta | None = None  # None: from the bottom (FIRST_STEP), looks growing apart


def _connection() -> redis.Redis:
    return queue_redis(get_settings().QUEUE, REDIS_TIMEOUT)


def _now(connection: redis.Redis) -> float:
    """Now on Redis's clock, where the observations are kept (one clock for every process)."""
    try:
        return redis_now(connection).timestamp()
    except (redis.RedisError, OSError):
        return time.time()  # Redis unreachable: the observation is lost anyway


def _key() -> str:
    conf = get_settings()
    return KEY.format(budget_key(conf.API_KEY, conf.BASE_URL))


def observe(lo: timedelta | None, hi: timedelta, *, at: float | None = None) -> None:
    """Keep one session's observation (``lo`` None: no look before ``hi`` showed it running)."""
    connection = _connection()
    member = json.dumps(
        [
            None if lo is None else round(lo.total_seconds(), 1),
            round(hi.total_seconds(), 1),
            at or _now(connection),
        ]
    )
    try:
        pipe = connection.pipeline(transaction=True)
        pipe.lpush(_key(), member)
        pipe.ltrim(_key(), 0, KEEP - 1)
        pipe.execute()
    except (redis.RedisError, OSError) as error:  # a lost observation only slows the learning
        logger.warning("data lag observation not kept: %s", type(error).__name__)


def observations() -> list[tuple[float | None, float, float]]:
    """The recent observations, newest first, as (lo seconds | None, hi seconds, observed at)."""
    try:
        members = _connection().lrange(_key(), 0, KEEP - 1)
    except (redis.RedisError, OSError) as error:
        logger.warning("data lag observations unreadable: %s", type(error).__name__)
        return []
    found = []
    for member in members:
        try:
            lo, hi, at = json.loads(member)
            found.append((None if lo is None else float(lo), float(hi), float(at)))
        except (TypeError, ValueError):
            continue  # not ours (or of a later version): ignored
    return found


def forget() -> None:
    """Drop every observation (the lag is learned again from the next sessions)."""
    _connection().delete(_key())


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (the smallest value with ``share`` of values at or below it)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _is_close(lo: float | None, hi: float) -> bool:
    floor = 0.0 if lo is None and hi <= CLOSE.total_seconds() else lo
    return floor is not None and hi - floor <= CLOSE.total_seconds()


def figures(now: float | None = None) -> LagFigures:
    """The learned lag and what it comes from (``learned`` None before any session was observed)."""
    found = observations()
    if not found:
        return LagFigures(0, 0, None, None, None, needs_probe=False)
    now = now or _now(_connection())
    # A close observation's lag is taken as the middle of its bounds: its upper bound is a look
    # rounded up to a window, and the first look it leads to is rounded up again.
    close = [(((lo or 0.0) + hi) / 2, at) for lo, hi, at in found if _is_close(lo, hi)]
    if close:
        # Close observations say where the lag is; the others only bound it, and count when they
        # bound it lower (a shorter lag, found by a look that came early).
        sample = [middle for middle, _ in close]
        ceiling = percentile(sample, QUANTILE)
        sample += [hi for lo, hi, _ in found if not _is_close(lo, hi) and hi < ceiling]
        learned = percentile(sample, QUANTILE)
        probe_from: float | None = learned - PROBE_EARLIER.total_seconds()
    else:
        # Only bounds so far (the first looks grow apart): the tightest bound above, and a probe
        # half-way down to the looks that missed below it (a bisection, until a look comes close).
        sample = [hi for _, hi, _ in found]
        learned = min(sample)
        lows = [lo for lo, _, _ in found if lo is not None and lo < learned]
        # With no look that missed (the lag may be much shorter), from the bottom, looks growing apart.
        probe_from = (max(lows) + learned) / 2 if lows else None
    bounded = min(max(learned, MIN_LAG.total_seconds()), MAX_LAG.total_seconds())
    recent_close = [at for _, at in close if now - at <= CLOSE_FRESH_FOR.total_seconds()]
    return LagFigures(
        sessions=len(found),
        close=len(close),
        median=timedelta(seconds=percentile(sample, 0.5)),
        p90=timedelta(seconds=percentile(sample, QUANTILE)),
        learned=timedelta(seconds=bounded),
        needs_probe=len(recent_close) < CLOSE_WANTED,
        probe_from=None if probe_from is None else timedelta(seconds=min(max(0.0, probe_from), bounded)),
    )


def _setting(name: str) -> Any:
    return getattr(get_settings(), name)


def follows(name: str) -> bool:
    """True when setting ``name`` (DATA_LAG_MINUTES or WEBHOOK_SYNC_DELAY_MINUTES) is "auto"."""
    return _setting(name) == "auto"


def data_lag() -> timedelta:
    """``DATA_LAG_MINUTES``: the number set, or with "auto" the learned lag (cautious before any)."""
    value = _setting("DATA_LAG_MINUTES")
    if value != "auto":
        return timedelta(minutes=float(value))
    if not _setting("WEBHOOK_SECRET"):
        return CAUTIOUS_DATA_LAG  # webhooks off: nothing measures the lag now (what was learned ages)
    learned = figures().learned
    return CAUTIOUS_DATA_LAG if learned is None else learned


def first_look() -> tuple[timedelta, bool]:
    """How long after a session's end its room is first synced, and whether that look is a probe.

    ``WEBHOOK_SYNC_DELAY_MINUTES`` as set, or with "auto": at the learned lag; a little earlier when
    close observations are few (a probe, followed every minute until the session shows ended); soon
    and then further apart before anything is learned.
    """
    value = _setting("WEBHOOK_SYNC_DELAY_MINUTES")
    if value != "auto":
        return timedelta(minutes=float(value)), False
    seen = figures()
    if seen.learned is None:
        return CAUTIOUS_FIRST_LOOK, False
    if seen.needs_probe and seen.probe_from is None:
        return FIRST_STEP, False
    if seen.needs_probe and seen.probe_from is not None:
        return min(seen.probe_from, seen.learned), True
    return seen.learned, False


def settled_after() -> timedelta:
    """How long after an event the API shows it (no probing): ``WEBHOOK_SYNC_DELAY_MINUTES`` as set,
    or with "auto" the learned lag (the cautious data lag before any)."""
    value = _setting("WEBHOOK_SYNC_DELAY_MINUTES")
    if value != "auto":
        return timedelta(minutes=float(value))
    learned = figures().learned
    return CAUTIOUS_DATA_LAG if learned is None else learned


def lookback_minutes() -> float:
    """Minutes an incremental sync re-reads: ``LOOKBACK_MINUTES``, or with "auto" the data lag
    (learned or set) plus one schedule interval."""
    conf = get_settings()
    if conf.LOOKBACK_MINUTES != "auto":
        return float(conf.LOOKBACK_MINUTES)
    return lookback(conf, data_lag().total_seconds() / 60)
