"""The package's shape where import-linter's contracts (pyproject.toml, `make lint`) cannot say it: no
module cycle, a shallow graph, few top-level modules, no django.db in whereby/, a sync engine that runs
with RQ blocked, and modules under the line cap."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.helpers import ROOT, TEST_API_KEY

PACKAGE = ROOT / "insights_app"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _internal_imports(path: Path, modules: set[str]) -> set[str]:
    """Modules of the package that ``path`` imports anywhere in its body (lazy imports included)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import name` depends on pkg.name when that is a module (pkg, its parent, is
            # loaded first anyway), and on pkg's own body otherwise.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t in modules)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    """Every module of insights_app and the package modules it imports."""
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}
    modules = set(paths)
    return {name: _internal_imports(path, modules) for name, path in paths.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), i.e. the import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_known_imports():
    # Guard against a parser that finds nothing and so finds no cycle.
    graph = import_graph()
    assert "insights_app.sync.service" in graph["insights_app.jobs.backend"]
    assert "insights_app.jobs.entry_points" in graph["insights_app.jobs"]
    assert "insights_app.models" in graph["insights_app.sync.runs"]
    assert "insights_app.sync.context" in graph["insights_app.sync.kinds"]


def test_no_import_cycle_inside_insights_app():
    assert cycles(import_graph()) == []


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def package_of(module: str) -> str:
    """The top-level part of insights_app a module belongs to ("insights_app.sync.kinds" -> "insights_app.sync")."""
    return ".".join(module.split(".")[:2])


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The import graph between the top-level parts of insights_app (its subpackages and modules)."""
    found: dict[str, set[str]] = {}
    for module, imported in graph.items():
        found.setdefault(package_of(module), set()).update(
            package_of(i) for i in imported if package_of(i) != package_of(module)
        )
    return found


def depth(graph: dict[str, set[str]]) -> int:
    """How many levels the longest import chain crosses (a part that imports nothing is level 1)."""
    assert cycles(graph) == [], "depth is measured on a graph without cycles"
    levels: dict[str, int] = {}

    def level(node: str) -> int:
        if node not in levels:
            levels[node] = 1 + max((level(n) for n in graph.get(node, ())), default=0)
        return levels[node]

    return max(level(node) for node in graph)


MAX_DEPTH = 9


def test_the_parts_of_the_package_import_each_other_at_most_9_levels_deep():
    parts = package_graph(import_graph())
    assert cycles(parts) == []
    assert depth(parts) <= MAX_DEPTH


def test_depth_counts_the_longest_chain():
    assert depth({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"c"}}) == 3


MAX_TOP_MODULES = 12


def test_at_most_12_modules_at_the_top_of_the_package():
    modules = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert len(modules) <= MAX_TOP_MODULES, sorted(modules)


def test_whereby_reaches_no_django_db():
    """import-linter forbids only whole external packages (django, not django.db): checked here, over
    every module whereby/ imports, directly or not."""
    graph = import_graph()
    reached = {m for m in graph if m.startswith("insights_app.whereby")}
    todo = list(reached)
    while todo:
        for nxt in graph[todo.pop()] - reached:
            reached.add(nxt)
            todo.append(nxt)
    offenders = set()
    for name in reached:
        source = (PACKAGE / Path(*name.split(".")[1:])).with_suffix(".py")
        if not source.exists():
            source = PACKAGE / Path(*name.split(".")[1:]) / "__init__.py"
        tree = ast.parse(source.read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level}
        offenders |= {(name, m) for m in imported if m == "django.db" or m.startswith("django.db.")}
    assert offenders == set()


ENGINE_WITHOUT_RQ = """
import importlib.abc, sys

class BlockRQ(importlib.abc.MetaPathFinder):
    # As if rq, django-rq and our RQ entry points were not installed.
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("rq", "django_rq") or name == "insights_app.jobs":
            raise ImportError(f"blocked: {name}")
        return None

sys.meta_path.insert(0, BlockRQ())

import django
from django.conf import settings
from django.core.management import call_command

from insights_app.simulator import OrgSpec, SimulatorServer, generate_organisation

server = SimulatorServer(generate_organisation(OrgSpec(seed=3, rooms=2, sessions_per_room=2,
                         participants_per_session=2)), api_key=API_KEY)
server.start()
settings.configure(
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "insights_app"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    USE_TZ=True,
    SECRET_KEY="architecture-test-secret-key-0123456789",  # people are counted by keyed pseudonyms
    WHEREBY_INSIGHTS={"API_KEY": API_KEY, "BASE_URL": server.base_url, "RATE_REDIS_URL": REDIS_URL,
                      "PLAN_POINTS_PER_MINUTE": 100000, "RATE_BUDGET_POINTS_PER_MINUTE": 100000,
                      "DETAIL_POLICY": "all"},
)
django.setup()
call_command("migrate", verbosity=0)
from insights_app.models import Participant
from insights_app.sync import InProcess, create_or_get_active_run, execute_run

run, _ = create_or_get_active_run("full", trigger="command", backend=InProcess())
run = execute_run(run.pk, backend=InProcess())
server.stop()
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("rq", "django_rq") or m == "insights_app.jobs")
print(run.status, Participant.objects.count(), loaded)
"""


def test_the_engine_syncs_with_rq_blocked_from_its_import_path(redis_url):
    script = f"API_KEY = {TEST_API_KEY!r}\nREDIS_URL = {redis_url!r}\n" + textwrap.dedent(ENGINE_WITHOUT_RQ)
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["succeeded", "8", "[]"]


MAX_MODULE_LINES = 400
# A module this close to the cap is parked under it, not split by idea.
PARKED_FROM = 371
# Over the limit when the limit was set, and being split by their owners (issue 10: one chart
# implementation); remove an entry when its module is split. Never add one.
OVER_THE_LIMIT: set[str] = set()


def test_no_module_is_over_400_lines():
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts
    }
    assert {p: n for p, n in sizes.items() if n > MAX_MODULE_LINES and p not in OVER_THE_LIMIT} == {}
    assert all(p in sizes for p in OVER_THE_LIMIT), "an exempted module is gone: drop its entry"


def test_no_module_is_parked_just_under_the_cap():
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts
    }
    parked = {p: n for p, n in sizes.items() if PARKED_FROM <= n <= MAX_MODULE_LINES}
    assert parked == {}


def test_only_one_module_reads_the_apis_rate_headers():
    # One parser: the budget, the cost book, the limiter's shape and the 429 waits all read RateHeaders.
    readers = {
        str(path.relative_to(ROOT))
        for path in (PACKAGE / "whereby").rglob("*.py")
        if re.search(r"""["'](X-RateLimit-[A-Za-z]+|Retry-After)["']""", path.read_text())
    }
    assert readers == {"insights_app/whereby/rate_headers.py"}
