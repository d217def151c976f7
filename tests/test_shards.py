"""The suite's parts (``--shard K/N``, ``scripts/run_shards.py``): every test in exactly one part, each
part on a Redis database and test database of its own."""

from __future__ import annotations

import importlib.util

import pytest

from tests.helpers import ROOT
from tests.helpers.shards import assign, parse

spec = importlib.util.spec_from_file_location("run_shards", ROOT / "scripts" / "run_shards.py")
run_shards = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_shards)


def test_files_go_heaviest_first_to_the_lightest_part_and_sites_to_the_first():
    weights = {"a.py": 100.0, "b.py": 60.0, "c.py": 50.0, "d.py": 10.0, "demo.py": 5.0}
    where = assign(weights, 2, first={"demo.py"})
    assert where == {"demo.py": 1, "a.py": 2, "b.py": 1, "c.py": 1, "d.py": 2}
    loads = [sum(w for n, w in weights.items() if where[n] == part) for part in (1, 2)]
    assert loads == [115.0, 110.0]


def test_a_bad_shard_is_a_usage_error_naming_it():
    assert parse("2/3") == (2, 3)
    for value in ("0/2", "3/2", "x", "1/2/3", ""):
        with pytest.raises(pytest.UsageError, match="--shard"):
            parse(value)


def test_the_second_part_has_its_own_redis_database_and_database():
    assert run_shards.redis_url_for("redis://127.0.0.1:6379/13", 2) == "redis://127.0.0.1:6379/8"
    assert run_shards.redis_url_for("redis://127.0.0.1:6379/13", 1) == "redis://127.0.0.1:6379/13"
    with pytest.raises(SystemExit, match="REDIS_URL database 3"):
        run_shards.redis_url_for("redis://127.0.0.1:6379/3", 2)
    pg = "postgres://root@127.0.0.1:5432/ci_leg3"
    assert run_shards.database_url_for(pg, 2) == "postgres://root@127.0.0.1:5432/ci_leg3_s2"
    assert (
        run_shards.database_url_for("sqlite:////w/var/ci/leg2.sqlite3", 2)
        == "sqlite:////w/var/ci/leg2-s2.sqlite3"
    )
    assert run_shards.database_url_for(pg, 1) == pg
