"""Redis clients on our queue's server with short timeouts, one per target per process."""

from __future__ import annotations

import threading
from typing import Any

import redis

_clients: dict[tuple, redis.Redis] = {}
_lock = threading.Lock()


def queue_redis(queue_name: str, timeout: float) -> redis.Redis:
    """A client for the server behind ``queue_name`` that gives up after ``timeout`` seconds.

    Pages and syncs must never hang on a dead Redis, and the dashboard asks every few seconds, so
    the client (and its pool) is made once per target and reused.
    """
    # Imported here: the budget (whereby/) and the sync use this module, and must not load RQ unless
    # they ask for the queue's server (RATE_REDIS_URL unset).
    import django_rq

    pool = django_rq.get_connection(queue_name).connection_pool
    # Only where and how to connect (plain values): newer redis-py also keeps per-pool objects there
    # (a maintenance-notification handler, registries) whose repr changes with every new client, so
    # a key made of them never matched, and each call left a new pool and its open connection behind.
    kwargs: dict[str, Any] = {
        **{
            k: v
            for k, v in pool.connection_kwargs.items()
            if isinstance(v, str | int | float | bool | type(None)) and not k.startswith(("orig_", "maint_"))
        },
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": None,
    }
    key = (pool.connection_class, tuple(sorted((k, repr(v)) for k, v in kwargs.items())))
    with _lock:
        if key not in _clients:
            _clients[key] = redis.Redis(
                connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs)
            )
        return _clients[key]


def url_redis(url: str, timeout: float) -> redis.Redis:
    """A client for an explicit Redis URL with short timeouts, reused per URL."""
    key = ("url", url, timeout)
    with _lock:
        if key not in _clients:
            _clients[key] = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        return _clients[key]
