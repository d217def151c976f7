"""This site's identity on a shared Redis: its key, the names it gives things there, and the job guard.

Several sites (staging and production, tenants) may share one Redis and even one queue name. Every
job id and Redis key the app makes carries the site's key, every job carries it in ``job.meta``, and
a job of another site is put back on the queue instead of being run against this site's database.
A job without the marker (queued by a version before sites existed) is treated as this site's.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS

from .conf import get_settings

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

# The key of job.meta naming the site that queued the job.
SITE_META = "insights_site"
# A worker of another site waits this long before putting a job back, so it does not spin on it.
REFUSE_PAUSE_SECONDS = 1.0


def _derived_key(secret: str) -> str:
    """The default key: a hash of the secret key and the database's engine and name.

    Every process of one site has the same settings, so the same key; staging and production differ
    in their SECRET_KEY (and usually their database), tenants in their database. The secret is hashed
    with a prefix of ours and cut to 12 hex digits: nothing of it can be read back from Redis.
    """
    database = settings.DATABASES.get(DEFAULT_DB_ALIAS, {})
    parts = ("insights-site", secret, str(database.get("ENGINE", "")), str(database.get("NAME", "")))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def site_key() -> str:
    """This site's key: ``WHEREBY_INSIGHTS["SITE_KEY"]``, else derived (see ``_derived_key``)."""
    configured = get_settings().SITE_KEY
    if isinstance(configured, str) and configured.strip():
        return configured.strip()
    return _derived_key(str(getattr(settings, "SECRET_KEY", "")))


def accepted_keys() -> set[str]:
    """Keys whose jobs are this site's: its key, and the keys derived from ``SECRET_KEY_FALLBACKS``
    (jobs queued before a secret key was rotated still run)."""
    keys = {site_key()}
    if not get_settings().SITE_KEY:
        keys.update(_derived_key(str(old)) for old in getattr(settings, "SECRET_KEY_FALLBACKS", []) or [])
    return keys


def site_label() -> str:
    """How the check names a site to a person: its database's kind and name (never host or password)."""
    database = settings.DATABASES.get(DEFAULT_DB_ALIAS, {})
    engine = str(database.get("ENGINE", "")).rsplit(".", 1)[-1]
    name = str(database.get("NAME", "")).replace("\\", "/").rsplit("/", 1)[-1]
    return f"{engine} database {name!r}"[:200]


def job_id(name: str) -> str:
    """A job id of this site: ``insights-<site>-<name>`` (e.g. ``insights-1a2b…-sync-14``)."""
    return f"insights-{site_key()}-{name}"


def redis_key(name: str) -> str:
    """A Redis key of this site: ``insights:<site>:<name>``."""
    return f"insights:{site_key()}:{name}"


def site_meta() -> dict[str, str]:
    """The ``meta`` every job of the app is queued with."""
    return {SITE_META: site_key()}


def foreign_site(job: Any) -> str | None:
    """The key of the other site that queued ``job``, or None when it is this site's (or unmarked)."""
    owner = (getattr(job, "meta", None) or {}).get(SITE_META)
    if not owner or owner in accepted_keys():
        return None
    return str(owner)


class ForeignSiteJob(Exception):
    """A worker of this site took a job of another site; it was put back on the queue, not run."""


def this_site_only(job: Callable[P, R]) -> Callable[P, R]:
    """Run the RQ job only if this site queued it; otherwise put it back on the queue for its own site.

    ``insights_app.worker.InsightsWorker`` never hands such a job to a work horse; this guard is for
    RQ's plain worker. It raises after giving the job one more retry, so RQ requeues it (neither
    failed nor run, its dependents left waiting) and a worker of its own site takes it.
    """

    @functools.wraps(job)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        from rq import get_current_job  # not at import: the sync engine runs without RQ

        current = get_current_job()
        if current is None:
            return job(*args, **kwargs)
        owner = foreign_site(current)
        if owner is not None:
            current.retries_left = (current.retries_left or 0) + 1
            current.retry_intervals = current.retry_intervals or None  # [] would make RQ's retry fail
            logger.warning(refusal_message(current.id, owner))
            time.sleep(REFUSE_PAUSE_SECONDS)
            raise ForeignSiteJob(refusal_message(current.id, owner))
        with contextlib.suppress(Exception):  # (the roll-call is a courtesy: never fail a job for it)
            register_site(current.connection, current.origin)
        return job(*args, **kwargs)

    return run


def refusal_message(job_id: str, owner: str) -> str:
    """The log line of a worker refusing another site's job."""
    return (
        f"job {job_id} was queued by another site (site key {owner}, this site is {site_key()}); "
        "put back on the queue, not run against this site's database. Give each site its own "
        "WHEREBY_INSIGHTS['QUEUE'] or Redis database (manage.py check: insights_app.W005)."
    )


# The roll-call of sites seen on a queue: a sorted set (site key -> last seen, Redis's clock) and a
# hash (site key -> label), per queue name, shared by every site on that Redis database.
ROLL_CALL = "insights:sites:{}"
ROLL_CALL_LABELS = "insights:sites:{}:labels"
# A site is named as long as one of its processes was seen this recently (checks, enqueues, jobs).
SEEN_FOR_SECONDS = 24 * 3600


def register_site(connection: Any, queue_name: str) -> None:
    """Note in Redis that this site uses ``queue_name`` now (by Redis's clock, not this host's)."""
    seconds, _micro = connection.time()
    pipe = connection.pipeline(transaction=False)
    pipe.zadd(ROLL_CALL.format(queue_name), {site_key(): seconds})
    pipe.hset(ROLL_CALL_LABELS.format(queue_name), site_key(), site_label())
    pipe.zremrangebyscore(ROLL_CALL.format(queue_name), "-inf", seconds - SEEN_FOR_SECONDS)
    pipe.expire(ROLL_CALL.format(queue_name), SEEN_FOR_SECONDS)
    pipe.expire(ROLL_CALL_LABELS.format(queue_name), SEEN_FOR_SECONDS)
    pipe.execute()


def other_sites(connection: Any, queue_name: str) -> dict[str, str]:
    """Other sites seen on ``queue_name`` within ``SEEN_FOR_SECONDS``: {site key: label}."""
    seconds, _micro = connection.time()
    keys = connection.zrangebyscore(ROLL_CALL.format(queue_name), seconds - SEEN_FOR_SECONDS, "+inf")
    found = {k.decode() if isinstance(k, bytes) else str(k) for k in keys} - accepted_keys()
    if not found:
        return {}
    labels = connection.hmget(ROLL_CALL_LABELS.format(queue_name), sorted(found))
    return {
        key: (label.decode() if isinstance(label, bytes) else str(label or "unknown database"))
        for key, label in zip(sorted(found), labels, strict=True)
    }
