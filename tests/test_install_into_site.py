"""The wheel, installed into a fresh virtualenv next to a host site that is not project/, just works.

Follows the README's "Add to your Django site" the way a team would: pip install the wheel (pip
resolves the dependencies), add the apps and settings (tests/hostsite), migrate, check, sync from the
simulator, and open every report page and the app's admin pages. A second site is made by
``django-admin startproject`` and set up with the README's snippets alone (pasted as a new user would),
synced from the installed app's simulator command with the key it prints, and crawled.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from insights_app import __version__
from tests.helpers import TEST_API_KEY

# The host site keeps its own SQLite database, so the PostgreSQL legs of CI need not repeat it.
pytestmark = [pytest.mark.slow, pytest.mark.own_site]

ROOT = Path(__file__).resolve().parent.parent
HOSTSITE = Path(__file__).resolve().parent / "hostsite"
FORBIDDEN_TOP_LEVEL = ("tests/", "project/", "scripts/", "bench/", "docs/", "templates/", "manage.py")


def run(
    cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run a command; on failure, fail the test with its output (never the API key: the site masks it)."""
    result = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(cmd[1:])} exited {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from this checkout the way a release is built."""
    out = tmp_path_factory.mktemp("dist")
    # From a copy: setuptools writes build/ and *.egg-info into the tree it builds, and CI runs this
    # test in two legs at once from one checkout.
    source = tmp_path_factory.mktemp("source") / "tree"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv*", "var", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
        ),
    )
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (built,) = out.glob("django_whereby_insights-*-py3-none-any.whl")
    return built


def test_wheel_ships_the_app_and_nothing_else(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    app = [n for n in names if n.startswith("insights_app/")]
    assert "insights_app/py.typed" in names
    assert "insights_app/migrations/0001_initial.py" in names
    assert any(n.startswith("insights_app/templates/insights_app/") and n.endswith(".html") for n in app)
    assert any(n.startswith("insights_app/static/insights_app/") for n in app)
    assert any(n.endswith("dist-info/licenses/LICENSE") for n in names)
    # The translations, compiled: a site needs no gettext tools to run in German or Norwegian.
    for language in ("de", "nb"):
        assert f"insights_app/locale/{language}/LC_MESSAGES/django.mo" in names
        assert f"insights_app/locale/{language}/LC_MESSAGES/django.po" in names
    # Only the app and its metadata: no test, demo site, scripts or bench code, no bytecode.
    assert {n.split("/")[0] for n in names} == {
        "insights_app",
        f"django_whereby_insights-{__version__}.dist-info",
    }
    assert not [n for n in names if n.startswith(FORBIDDEN_TOP_LEVEL)]
    assert not [
        n for n in names if "/tests/" in n or n.endswith(("conftest.py", ".pyc")) or "__pycache__" in n
    ]
    metadata = (
        zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("dist-info/METADATA"))).decode()
    )
    required = {
        line.split(":", 1)[1].strip().split(";")[0].split("<")[0].split(">")[0].lower()
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    }
    assert {"django", "django-rq", "rq", "redis", "requests", "plotly", "ua-parser"} <= required


@pytest.fixture(scope="module")
def site_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with only the wheel and what pip resolves for it."""
    venv = tmp_path_factory.mktemp("hostsite-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    started = time.monotonic()
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    print(f"fresh venv install of {wheel.name}: {time.monotonic() - started:.1f} s")
    check = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout
    return venv


@pytest.fixture
def site(tmp_path: Path, site_venv: Path, redis_url: str) -> dict:
    """A copy of tests/hostsite outside the checkout, and the environment its commands run in."""
    site_dir = tmp_path / "site"
    shutil.copytree(HOSTSITE, site_dir, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "PYTHONPATH", "VIRTUAL_ENV"}
        and not key.startswith("INSIGHTS_")
    }
    env.update(
        {
            "PATH": f"{site_venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            "DJANGO_SETTINGS_MODULE": "hostsite.settings",
            "HOSTSITE_DB": str(tmp_path / "hostsite.sqlite3"),
            "HOSTSITE_STATIC_ROOT": str(tmp_path / "static"),
            "REDIS_URL": redis_url,
        }
    )
    return {"dir": site_dir, "env": env, "python": str(site_venv / "bin" / "python"), "tmp": tmp_path}


def manage(site: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python manage.py ...`` in the host site, with the venv's Python."""
    return run([site["python"], "manage.py", *args], cwd=site["dir"], env=site["env"], timeout=timeout)


def test_host_site_installs_migrates_syncs_and_renders_every_report(site, simulator_factory, redis_conn):
    simulator = simulator_factory(seed=7, rooms=5, sessions_per_room=6, participants_per_session=3)
    site["env"].update({"WHEREBY_API_KEY": TEST_API_KEY, "WHEREBY_API_BASE_URL": simulator.base_url})

    # The app imported is the installed one, not this checkout.
    where = run(
        [site["python"], "-c", "import insights_app; print(insights_app.__file__)"],
        cwd=site["dir"],
        env=site["env"],
    )
    assert "site-packages" in where.stdout and str(ROOT) not in where.stdout

    manage(site, "migrate", "--noinput")
    checked = manage(site, "check", "--fail-level", "WARNING")
    assert "no issues" in checked.stdout
    manage(site, "makemigrations", "--check", "--dry-run")
    # The installed catalogues answer without any gettext tool on the machine.
    spoken = manage(
        site,
        "shell",
        "-c",
        "from django.utils import translation\n"
        "for language in ('de', 'nb'):\n"
        "    translation.activate(language)\n"
        "    print(translation.gettext('Video usage overview'))\n",
    )
    assert spoken.stdout.strip().splitlines()[-2:] == [
        "Übersicht der Videonutzung",
        "Oversikt over videobruk",
    ]
    manage(site, "collectstatic", "--noinput")
    assert list((site["tmp"] / "static" / "insights_app").rglob("*")), (
        "the app's static files were not collected"
    )

    synced = manage(site, "insights_sync", "--full", "--details", "all")
    assert TEST_API_KEY not in synced.stdout + synced.stderr

    rendered = run([site["python"], "render_reports.py"], cwd=site["dir"], env=site["env"])
    assert TEST_API_KEY not in rendered.stdout + rendered.stderr
    report = json.loads(rendered.stdout.strip().splitlines()[-1])

    counts = report["counts"]
    print(
        f"host site: {counts}; {len(report['reports'])} report pages "
        f"({sorted({p['name'] for p in report['reports']})}), {len(report['admin'])} admin pages"
    )
    # The simulator's totals are exact: 5 rooms x 6 sessions x 3 connections; details policy "all".
    assert (counts["rooms"], counts["sessions"], counts["participants"]) == (5, 30, 90)
    assert counts["details"] > 0

    pages = report["reports"]
    assert report["report_start"], "no report page can be opened without arguments"
    assert {page["name"] for page in pages} == set(report["report_url_names"]), (
        "some report pages were never linked"
    )
    broken = [(page["url"], page["status"]) for page in pages if page["status"] != 200]
    assert not broken
    assert report["rooms_shown_escaped"] > 0, "the reports show no room of the synced data"
    assert report["external_ids_shown_escaped"] > 0, (
        "the people report shows no external id of the synced data"
    )
    assert report["raw_markup_names_leaked"] == []
    assert report["raw_markup_display_names_leaked"] == []
    assert all(status == 403 for status in report["denied_without_permission"].values())
    assert all(status in (302, 403) for status in report["anonymous"].values())

    admin_pages = report["admin"]
    assert {
        "admin:insights_app_room_changelist",
        "admin:insights_app_syncrun_changelist",
        "admin:insights_app_syncrun_dashboard",
    } <= {page["name"] for page in admin_pages}
    assert not [(page["url"], page["status"]) for page in admin_pages if page["status"] != 200]


@pytest.mark.parametrize("host_rq", [{"COMMIT_MODE": "request_finished"}, {"AUTOCOMMIT": False}])
def test_a_host_on_request_finished_queues_and_fans_out(site, simulator_factory, redis_conn, host_rq):
    # django-rq's request_finished mode (the legacy AUTOCOMMIT False) holds jobs until a web request
    # ends: in a command or a worker that never happens, so the app must not inherit the host's mode.
    simulator = simulator_factory(seed=8, rooms=5, sessions_per_room=2, participants_per_session=2)
    site["env"].update(
        {
            "WHEREBY_API_KEY": TEST_API_KEY,
            "WHEREBY_API_BASE_URL": simulator.base_url,
            "HOSTSITE_RQ": json.dumps(host_rq),
            "HOSTSITE_INSIGHTS": json.dumps({"FANOUT_MIN_ROOMS": 2, "FANOUT_ROOMS_PER_JOB": 2}),
            "PYTHONWARNINGS": "ignore::DeprecationWarning",
        }
    )
    manage(site, "migrate", "--noinput")

    queued = manage(site, "insights_sync", "--enqueue", "--full")
    assert "Queued sync run #1" in queued.stdout
    # One worker in burst mode works the queue empty: the run, then each step's batches and mark (the
    # next step's jobs wait on it), then the closing job.
    manage(site, "rqworker", "whereby_insights", "--burst", timeout=300)

    shown = manage(
        site,
        "shell",
        "-c",
        "from insights_app.models import Room, SyncRun; r = SyncRun.objects.get(); "
        "print(r.status, r.checkpoint.get('complete_from'), Room.objects.count(), r.error or '-')",
    )
    assert shown.stdout.strip().splitlines()[-1].split()[:3] == ["succeeded", "all", "5"], shown.stdout


def readme_block(after: str) -> str:
    """The first code block of the README's "Add to your Django site" after the text ``after``, unindented."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Add to your Django site") :]
    section = section[section.index(after) :]
    block = re.search(r"```(?:python|bash)\n(.*?)```", section, re.S)
    assert block, f"no code block after {after!r} in the README"
    return (
        "\n".join(line[3:] if line.startswith("   ") else line for line in block.group(1).splitlines()) + "\n"
    )


def apply_readme_to_startproject(project: Path) -> None:
    """What a new user does with the README's snippets in ``startproject``'s files, and nothing more."""
    settings = project / "mysite" / "settings.py"
    snippet = readme_block("Settings:")
    apps_block = re.search(r"INSTALLED_APPS = \[(.*?)\]\n", snippet, re.S)
    assert apps_block, "the README's settings name the apps to add"
    apps = re.findall(r'^\s*"([\w.]+)",', apps_block.group(1), re.M)
    text = settings.read_text()
    text = text.replace(
        "    'django.contrib.staticfiles',\n]",
        "    'django.contrib.staticfiles',\n" + "".join(f"    {a!r},\n" for a in apps) + "]",
    )
    settings.write_text(text + "\n" + snippet.replace(apps_block.group(0), ""))
    urls = project / "mysite" / "urls.py"
    # Pasted below startproject's own lines (its imports stay): the README's urlpatterns replace its list.
    urls.write_text(urls.read_text() + "\n" + readme_block("3. URLs"))


def test_a_startproject_site_following_only_the_readme_syncs_from_the_simulator_and_serves_every_page(
    site_venv, tmp_path, redis_url, redis_conn
):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DJANGO_SETTINGS_MODULE", "PYTHONPATH", "VIRTUAL_ENV"}
    }
    env = {k: v for k, v in env.items() if not k.startswith(("INSIGHTS_", "WHEREBY_"))}
    env.update({"PATH": f"{site_venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", "REDIS_URL": redis_url})
    project = tmp_path / "newsite"
    project.mkdir()
    run(
        [str(site_venv / "bin" / "django-admin"), "startproject", "mysite", str(project)],
        cwd=tmp_path,
        env=env,
    )
    apply_readme_to_startproject(project)
    python = str(site_venv / "bin" / "python")

    def manage_new(*args: str, extra: dict | None = None) -> subprocess.CompletedProcess:
        return run([python, "manage.py", *args], cwd=project, env={**env, **(extra or {})})

    manage_new("migrate", "--noinput")
    # The README's "no key yet" step: the simulator command of the installed app, its made-up key.
    simulator = subprocess.Popen(
        [python, "manage.py", "insights_simulator", "--port", "0", "--rooms", "4", "--sessions-per-room", "3"],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        base_url = key = ""
        while not (base_url and key):
            line = simulator.stdout.readline() if simulator.stdout else ""
            assert line, "the simulator command stopped before printing its URL and key"
            base_url = base_url or (re.findall(r"(http://\S+/v1)", line) or [""])[0]
            key = key or (re.findall(r"(demo-[0-9a-f]+)", line) or [""])[0]
        api = {"WHEREBY_API_KEY": key, "WHEREBY_API_BASE_URL": base_url}
        checked = manage_new("check", "--fail-level", "WARNING", extra=api)
        assert "no issues" in checked.stdout
        synced = manage_new("insights_sync", extra=api)
        assert "succeeded" in synced.stdout, synced.stdout
        crawl = manage_new("shell", "-c", CRAWL, extra=api)
    finally:
        simulator.terminate()
        simulator.wait(timeout=30)
    report = json.loads(crawl.stdout.strip().splitlines()[-1])
    assert report["pages"] > 20 and report["broken"] == [], report
    assert report["room_reports"] > 0, "no room report was linked from the synced data"


# Logs in as a new superuser and follows every link of the reports and the app's admin from their start pages.
CRAWL = """
import json, re
from django.contrib.auth import get_user_model
from django.test import Client
user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-123456")
client = Client()
client.force_login(user)
seen, todo, broken = set(), ["/insights/", "/admin/", "/admin/insights_app/"], []
while todo and len(seen) < 150:
    url = todo.pop(0)
    if url in seen:
        continue
    seen.add(url)
    response = client.get(url, HTTP_HOST="localhost")
    if response.status_code not in (200, 302):
        broken.append((url, response.status_code))
    if response.status_code == 200 and "text/html" in response.get("Content-Type", ""):
        for link in re.findall(r'href="(/(?:insights|admin/insights_app)/[^"#]*)"', response.content.decode()):
            link = link.replace("&amp;", "&")
            if "csv" not in link and "logout" not in link and link not in seen:
                todo.append(link)
rooms = [u for u in seen if re.fullmatch(r"/insights/rooms/\\d+/", u)]
print(json.dumps({"pages": len(seen), "broken": broken, "room_reports": len(rooms)}))
"""
