"""Peer: dlt's ``rest_api`` source over the four insights endpoints, loaded into PostgreSQL.

Runs in the peers' own venv (``bench/requirements-peers.txt``), never in the app's:

    .venv-peers/bin/python bench/peers/dlt_pipeline.py --base-url URL --api-key KEY \
        --database postgresql://root@127.0.0.1:5432/wt12_dlt --details all \
        --settled-before 2026-12-01T08:00:00Z

Rooms, room sessions and participants are declared ``rest_api`` resources (cursor paginator, bearer
auth, each child resolved from its parent). The detail endpoint is a ``dlt.transformer`` over the
participants resource calling the same ``RESTClient``: ``rest_api`` cannot skip the child request
for some parent rows, and details are only asked for connections that ended before
``--settled-before`` (what our sync asks for). Every table merges on its primary key, so a re-run
updates rows instead of duplicating them; detail rows keep their session and participant ids.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dlt
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.rest_api import rest_api_resources

from peers.common import report

TABLES = {
    "rooms": "rooms",
    "sessions": "room_sessions",
    "participants": "participants",
    "details": "participant_detail",
}


@dlt.source(name="whereby_insights")
def whereby_insights(base_url: str, api_key: str, details: str, settled_before: str) -> Any:
    """The three list endpoints as ``rest_api`` resources, plus the detail transformer."""
    config: dict[str, Any] = {
        "client": {
            "base_url": base_url.rstrip("/") + "/",
            "auth": {"type": "bearer", "token": api_key},
            "paginator": {"type": "cursor", "cursor_path": "cursor", "cursor_param": "cursor"},
        },
        "resource_defaults": {
            "write_disposition": "merge",
            "endpoint": {"params": {"limit": 100}, "data_selector": "results"},
        },
        "resources": [
            {"name": "rooms", "primary_key": "room_name", "endpoint": {"path": "insights/rooms"}},
            {
                "name": "room_sessions",
                "primary_key": "room_session_id",
                "endpoint": {
                    "path": "insights/room-sessions",
                    "params": {"roomName": "{resources.rooms.roomName}"},
                },
            },
            {
                "name": "participants",
                "primary_key": ["room_session_id", "participant_id"],
                "endpoint": {
                    "path": "insights/participants",
                    "params": {"roomSessionId": "{resources.room_sessions.roomSessionId}"},
                },
            },
        ],
    }
    resources = rest_api_resources(config)
    if details != "all":
        return resources
    participants = next(r for r in resources if r.name == "participants")
    client = RESTClient(base_url=base_url.rstrip("/") + "/", auth=BearerTokenAuth(api_key))

    @dlt.transformer(
        data_from=participants,
        name="participant_detail",
        write_disposition="merge",
        primary_key=["room_session_id", "participant_id", "position"],
    )
    def participant_detail(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """The detail array of every connection that ended before ``settled_before``."""
        for item in items:
            left = item.get("leftAt")
            # ISO-8601 UTC strings of one format compare in time order.
            if not isinstance(left, str) or left > settled_before:
                continue
            response = client.get(
                "insights/participant",
                params={"roomSessionId": item["roomSessionId"], "participantId": item["participantId"]},
            )
            response.raise_for_status()
            for position, detail in enumerate(response.json()):
                yield {
                    "room_session_id": item["roomSessionId"],
                    "participant_id": item["participantId"],
                    "position": position,
                    **detail,
                }

    return [*resources, participant_detail]


def main() -> None:
    """Run the pipeline once, print time, row counts and peak memory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--database", required=True, help="postgresql://user@host:port/name")
    parser.add_argument("--details", choices=["none", "all"], default="none")
    parser.add_argument("--settled-before", required=True, help="ISO-8601 UTC, e.g. 2026-12-01T08:00:00.000Z")
    parser.add_argument(
        "--pipelines-dir", default=None, help="dlt's working directory (state, load packages)"
    )
    args = parser.parse_args()

    pipeline = dlt.pipeline(
        pipeline_name="whereby_insights_bench",
        pipelines_dir=args.pipelines_dir,
        destination=dlt.destinations.postgres(credentials=args.database),
        dataset_name="whereby",
    )
    source = whereby_insights(args.base_url, args.api_key, args.details, args.settled_before)
    started = time.perf_counter()
    pipeline.run(source)
    seconds = time.perf_counter() - started
    rows = {}
    with pipeline.sql_client() as sql:
        for label, table in TABLES.items():
            try:
                rows[label] = sql.execute_sql(
                    f"SELECT count(*) FROM {sql.make_qualified_table_name(table)}"  # noqa: S608 (our constants)
                )[0][0]
            except Exception:  # a table never created (details none) holds no rows
                rows[label] = 0
    report(seconds, rows)


if __name__ == "__main__":
    main()
