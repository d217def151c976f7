"""One simulator process for ``bench_peers.py``: serves HTTP, answers call counts on stdin.

Protocol (one line each way): ``count`` -> requests served so far (by every client), then the 429s
and the points charged since the last ``count``; ``quit`` -> stop. The first line printed is ``ready <base_url> <rooms> <sessions> <connections>``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from insights_app.simulator import FaultConfig, OrgSpec, SimulatorServer, generate_organisation


def main() -> None:
    """Generate the organisation at the real clock (the simulator's default), then serve it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, required=True)
    parser.add_argument("--sessions-per-room", type=float, required=True)
    parser.add_argument("--participants-per-session", type=float, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--points-per-minute", type=int, default=None)
    parser.add_argument("--api-key", required=True)
    args = parser.parse_args()

    spec = OrgSpec(
        seed=args.seed,
        rooms=args.rooms,
        sessions_per_room=args.sessions_per_room,
        participants_per_session=args.participants_per_session,
    )
    server = SimulatorServer(
        generate_organisation(spec),
        api_key=args.api_key,
        points_per_minute=args.points_per_minute,
        faults=FaultConfig(latency_ms=args.latency_ms),
    )
    with server:
        stats = server.organisation.stats()
        print(
            f"ready {server.base_url} {stats['rooms']} {stats['sessions']} {stats['connections']}", flush=True
        )
        for line in sys.stdin:
            command = line.strip()
            if command == "count":
                with server._log_lock:
                    total = sum(server.counters.values())
                    throttled = sum(1 for record in server.request_log if record.status == 429)
                    points = sum(record.points for record in server.request_log)
                    server.request_log.clear()  # counts live in the counters; keep memory flat
                print(f"{total} {throttled} {points}", flush=True)
            elif command == "quit":
                break


if __name__ == "__main__":
    main()
