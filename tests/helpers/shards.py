"""``pytest --shard K/N``: run the K-th of N parts of the suite, so N processes can share its waits.

The suite mostly waits (rate windows, schedulers, workers starting), so two processes on their own
Redis database and test database (``scripts/run_shards.py`` gives them theirs) finish in little more
than half the time. Whole files go to one part, heaviest first onto the lightest part, by the seconds
in ``tests/durations.json`` (a file not listed counts ``DEFAULT_SECONDS`` a test). The tests that
start sites of their own (the demo's fixed ports, the installed wheel) all go to part 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DURATIONS = Path(__file__).resolve().parent.parent / "durations.json"
DEFAULT_SECONDS = 0.4
# Files that start sites or the demo on ports of their own: never two of them at once.
FIRST_PART_FILES = ("tests/test_demo", "tests/test_install_into_site")


def parse(value: str) -> tuple[int, int]:
    """``"K/N"`` as (K, N), 1 <= K <= N; anything else is a usage error naming the value."""
    try:
        part, parts = (int(x) for x in value.split("/"))
    except ValueError:
        raise pytest.UsageError(f"--shard takes K/N (for example 1/2), not {value!r}") from None
    if not 1 <= part <= parts:
        raise pytest.UsageError(f"--shard {value}: K must be between 1 and N")
    return part, parts


def assign(weights: dict[str, float], parts: int, first: set[str] = frozenset()) -> dict[str, int]:
    """Each file's part (1..parts): ``first`` files to part 1, the rest heaviest first onto the lightest."""
    load = [0.0] * parts
    where: dict[str, int] = {}
    for name in sorted(first):
        where[name] = 1
        load[0] += weights[name]
    for name in sorted(set(weights) - set(first), key=lambda n: (-weights[n], n)):
        lightest = min(range(parts), key=lambda i: (load[i], i))
        where[name] = lightest + 1
        load[lightest] += weights[name]
    return where


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--shard", default=None, help="run the K-th of N parts of the suite (K/N)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    value = config.getoption("--shard")
    if not value:
        return
    part, parts = parse(value)
    known = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    weights: dict[str, float] = {}
    first: set[str] = set()
    for item in items:
        name = item.nodeid.split("::", 1)[0]
        weights[name] = weights.get(name, 0.0) + DEFAULT_SECONDS
        if item.get_closest_marker("own_site") or name.startswith(FIRST_PART_FILES):
            first.add(name)
    for name in weights:
        if name in known:
            weights[name] = float(known[name])
    where = assign(weights, parts, first)
    kept = [item for item in items if where[item.nodeid.split("::", 1)[0]] == part]
    dropped = [item for item in items if where[item.nodeid.split("::", 1)[0]] != part]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = kept
