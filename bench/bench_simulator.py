"""How fast the simulator generates a big organisation and serves pages (printed, never asserted).

Run: ``.venv/bin/python bench/bench_simulator.py [--rooms 1000 --sessions-per-room 20 --participants-per-session 5]``
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from insights_app.simulator import OrgSpec, SimulatorServer, generate_organisation


def main() -> None:
    """Generate, then time a full pass over rooms and a sample of the other endpoints over HTTP."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--sessions-per-room", type=float, default=20)
    parser.add_argument("--participants-per-session", type=float, default=5)
    parser.add_argument("--requests", type=int, default=300, help="detail requests to time")
    args = parser.parse_args()

    spec = OrgSpec(
        seed=1,
        rooms=args.rooms,
        sessions_per_room=args.sessions_per_room,
        participants_per_session=args.participants_per_session,
    )
    started = time.perf_counter()
    org = generate_organisation(spec)
    generation = time.perf_counter() - started
    stats = org.stats()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"generated {stats['rooms']} rooms / {stats['sessions']} sessions / {stats['connections']} connections "
        f"in {generation:.2f} s (peak RSS {rss_mb:.0f} MiB)"
    )

    with SimulatorServer(org, api_key="bench") as server, requests.Session() as http:
        http.headers["Authorization"] = "Bearer bench"
        started = time.perf_counter()
        cursor, pages, rooms = None, 0, []
        while True:
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            body = http.get(server.base_url + "/insights/rooms", params=params, timeout=30).json()
            rooms.extend(body["results"])
            pages += 1
            cursor = body["cursor"]
            if not cursor:
                break
        elapsed = time.perf_counter() - started
        print(f"paged {len(rooms)} rooms in {pages} requests: {elapsed:.2f} s ({pages / elapsed:.0f} req/s)")

        targets = []
        for room in rooms:
            for session in org.session_items(room["roomName"])[:2]:
                for person in org.participant_items(session["roomSessionId"])[:2]:
                    targets.append((session["roomSessionId"], person["participantId"]))
            if len(targets) >= args.requests:
                break
        started = time.perf_counter()
        samples = 0
        for session_id, participant_id in targets[: args.requests]:
            items = http.get(
                server.base_url + "/insights/participant",
                params={"roomSessionId": session_id, "participantId": participant_id},
                timeout=30,
            ).json()
            samples += sum(len(item["samples"]["bitrateSend"]) for item in items)
        elapsed = time.perf_counter() - started
        count = min(len(targets), args.requests)
        print(
            f"served {count} detail arrays ({samples} samples each metric) in {elapsed:.2f} s ({count / elapsed:.0f} req/s)"
        )


if __name__ == "__main__":
    main()
