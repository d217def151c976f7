"""Our short-timeout Redis clients are made once per target: a page, a budget or a lag reading asks
for one thousands of times, and each new client would keep a connection open."""

from __future__ import annotations

import pytest
import redis

from insights_app.redis_clients import queue_redis

pytestmark = pytest.mark.integration  # talks to Redis


def open_connections(conn: redis.Redis) -> int:
    """Connections to this test's database: other CI legs share the server, each on a database of its own."""
    db = conn.connection_pool.connection_kwargs.get("db", 0)
    return sum(1 for client in conn.client_list() if int(client["db"]) == int(db))


def test_one_client_per_queue_and_timeout_and_no_connection_left_per_call(settings, redis_conn):
    first = queue_redis(settings.WHEREBY_INSIGHTS.get("QUEUE", "whereby_insights"), 2.0)
    first.ping()
    before = open_connections(redis_conn)
    for _ in range(50):
        client = queue_redis(settings.WHEREBY_INSIGHTS.get("QUEUE", "whereby_insights"), 2.0)
        client.ping()
    assert client is first
    assert open_connections(redis_conn) <= before + 1
    assert queue_redis(settings.WHEREBY_INSIGHTS.get("QUEUE", "whereby_insights"), 3.0) is not first
