#!/usr/bin/env python
"""``make demo``: a simulated (or your real) organisation synced into a local site, in one command.

Starts the Whereby Insights simulator (unless WHEREBY_API_KEY is set), migrates a SQLite database,
creates an admin user, starts an RQ worker and the cron scheduler when Redis answers (otherwise
syncs in a child process of this script), runs a first sync and serves http://127.0.0.1:8000.
Ctrl-C stops every process it started.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import subprocess
import sys
import time
from html import escape
from pathlib import Path

import requests
from demo_api import add_api_arguments, simulator_api_flags
from demo_procs import (
    Children,
    Stop,
    ignore_signals,
    install_signal_handlers,
    kernel_port,
    port_is_free,
    stop_if_requested,
)

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MANAGE = str(ROOT / "manage.py")
SIMULATOR_KEY = "demo-simulator-key"  # only the local simulator accepts it
ADMIN_USER = "admin"
WORKER_CLASS = "insights_app.worker.InsightsWorker"
FIRST_SYNC_QUEUED_WITHIN = 120  # seconds: one manage.py start, a few queries and one Redis write
SIMULATOR_PORT = 8765  # the simulator's own default; the demo uses another port when it is taken


class PortProblem(RuntimeError):
    """A port the demo needs is taken or asked for twice; the message says which and what to do."""


def port_number(text: str) -> int:
    """argparse type: a TCP port 1–65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (1–65535)")
    return port


def choose_ports(site: int, simulator: int | None, preferred: int = SIMULATOR_PORT) -> tuple[int, int]:
    """The site's port and the simulator's, never the same; a port asked for must be free.

    Without ``simulator``, ``preferred`` is used when it is free and not the site's, else a port the
    kernel picks (so DEMO_PORT=8765 no longer collides with the simulator's default).
    """
    if not port_is_free(site):
        raise PortProblem(
            f"port {site} is in use: stop what runs there, or choose another (DEMO_PORT={kernel_port()})"
        )
    if simulator is not None:
        if simulator == site:
            raise PortProblem(
                f"--sim-port {simulator} is the site's port too: give the simulator another one"
            )
        if not port_is_free(simulator):
            raise PortProblem(
                f"--sim-port {simulator} is in use: choose another, or leave it out to get a free one"
            )
        return site, simulator
    if preferred != site and port_is_free(preferred):
        return site, preferred
    port = kernel_port()
    while port == site:
        port = kernel_port()
    return site, port


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; every one has a default fit for `make demo`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--port",
        type=port_number,
        default=os.environ.get("DEMO_PORT", "8000"),
        help="the site's port (DEMO_PORT)",
    )
    parser.add_argument(
        "--sim-port",
        type=port_number,
        default=os.environ.get("DEMO_SIM_PORT") or None,
        help=f"the simulator's port (DEMO_SIM_PORT); default {SIMULATOR_PORT}, or a free one when that is taken",
    )
    parser.add_argument("--db", default=os.environ.get("DEMO_DB", str(ROOT / "var" / "db.sqlite3")))
    parser.add_argument("--log-dir", default=str(ROOT / "var" / "demo"), help="where the children's logs go")
    parser.add_argument(
        "--simulator", action="store_true", help="use the simulator even if WHEREBY_API_KEY is set"
    )
    parser.add_argument("--rooms", type=int, default=40)
    parser.add_argument("--sessions-per-room", type=float, default=75)
    parser.add_argument("--participants-per-session", type=float, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=float, default=30, help="days of history the simulator generates")
    parser.add_argument(
        "--speed",
        type=float,
        default=1,
        help="simulated seconds per real second; above 1 new sessions come faster but start in the future",
    )
    parser.add_argument(
        "--keep-data",
        action="store_true",
        help="keep the demo database of a previous start (the simulator generates a new organisation each time)",
    )
    parser.add_argument("--workers", type=int, default=1, help="RQ workers to start when Redis answers")
    parser.add_argument("--password", default=os.environ.get("DEMO_ADMIN_PASSWORD", "admin"))
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 0 once the reports show synced data (non-zero if they do not within --timeout)",
    )
    parser.add_argument("--timeout", type=float, default=300, help="seconds --check waits for data")
    add_api_arguments(parser.add_argument_group("the simulated API's rate limit (docs/simulator.md)"))
    return parser.parse_args(argv)


def say(message: str) -> None:
    """Print one demo status line, flushed; a closed terminal or pipe must not stop the clean-up."""
    try:
        print(f"[demo] {message}", flush=True)
    except OSError:  # BrokenPipeError: e.g. `make demo | tee log` and Ctrl-C ended tee first
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (lives as long as the process)


def base_env(args: argparse.Namespace) -> dict[str, str]:
    """The environment every child shares: demo settings, the database, a throwaway secret key."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "scripts.demo_settings",
            "INSIGHTS_DEMO": "1",
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if not env.get("DATABASE_URL"):
        Path(args.db).parent.mkdir(parents=True, exist_ok=True)
        env["DATABASE_URL"] = f"sqlite:///{Path(args.db).resolve()}"
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    return env


def wait_http(url: str, *, headers: dict[str, str] | None = None, timeout: float = 60, child=None) -> None:
    """Poll until ``url`` answers below 500; fail early if the serving child died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and child.process.poll() is not None:
            raise RuntimeError(f"{child.name} exited with {child.process.returncode}:\n{child.log_tail()}")
        try:
            if requests.get(url, headers=headers, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
        stop_if_requested()
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def start_simulator(children: Children, args: argparse.Namespace, env: dict[str, str], port: int) -> None:
    """The simulated organisation over HTTP on ``port``, posting signed webhooks to the site; the children's settings point at it."""
    # A throwaway signing secret shared by the simulator and the site (through the environment, so it
    # never shows in a process list); a secret you set yourself is used as it is.
    env.setdefault("WHEREBY_WEBHOOK_SECRET", f"demo-whsec-{secrets.token_hex(16)}")
    webhook_url = f"http://127.0.0.1:{args.port}/insights/webhooks/whereby/"
    child = children.start(
        "simulator",
        [PYTHON, MANAGE, "insights_simulator", "--port", str(port), "--seed", str(args.seed),
         "--rooms", str(args.rooms), "--sessions-per-room", str(args.sessions_per_room),
         "--participants-per-session", str(args.participants_per_session), "--days", str(args.days),
         "--live", "--speed", str(args.speed), "--realistic", "--api-key", SIMULATOR_KEY,
         "--webhook-url", webhook_url, *simulator_api_flags(args)],
    )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}/v1"
    wait_http(
        f"{base_url}/insights/rooms?limit=1",
        headers={"Authorization": f"Bearer {SIMULATOR_KEY}"},
        child=child,
    )
    env.update(
        {"WHEREBY_API_KEY": SIMULATOR_KEY, "WHEREBY_API_BASE_URL": base_url, "INSIGHTS_DEMO_SIMULATOR": "1"}
    )
    say(
        f"simulator: {args.rooms} rooms, {round(args.rooms * args.sessions_per_room)} sessions over {args.days:g} "
        f"days, live at {args.speed:g}x, on {base_url} (pid {child.process.pid}, log {child.log_path})"
    )
    say(f"webhooks: the simulator posts signed live events to {webhook_url} (see docs/webhooks.md)")


def fresh_database(path: Path) -> None:
    """Remove the demo's own SQLite file: a new simulated organisation must not mix with the last one."""
    removed = False
    for suffix in ("", "-wal", "-shm"):
        candidate = path.with_name(path.name + suffix)
        if candidate.exists():
            candidate.unlink()
            removed = True
    if removed:
        say(f"new simulated organisation, so a fresh demo database: {path} (--keep-data keeps the old one)")


def setup_django(env: dict[str, str]) -> None:
    """Use the demo's settings in this process too, to create the admin user and watch the sync."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def django_ready() -> bool:
    """True once ``setup_django`` ran in this process."""
    from django.apps import apps

    return apps.ready


def ensure_admin(password: str) -> None:
    """A superuser ``admin`` with the printed password (reset on every start)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username=ADMIN_USER, defaults={"email": "admin@example.com"})
    user.is_staff = user.is_superuser = True
    user.set_password(password)
    user.save()
    connection.close()


def redis_answers(url: str) -> bool:
    """True if Redis answers a PING at ``url``."""
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def data_state() -> tuple[int, int, str]:
    """(rooms, sessions, a line about the latest sync run) from the database."""
    from django.db import connection

    from insights_app.models import Room, RoomSession, SyncRun

    try:
        latest = SyncRun.objects.order_by("-queued_at").first()
        line = f"run #{latest.pk} {latest.status}" if latest else "not started"
        if latest and latest.error:
            line += f": {latest.error[:200]}"
        return Room.objects.count(), RoomSession.objects.count(), line
    finally:
        connection.close()


def cancel_active_runs() -> None:
    """Ask running syncs to stop at the next page, so a worker's warm shutdown is quick and clean."""
    from django.db import DatabaseError, connection

    from insights_app.models import SyncRun
    from insights_app.sync.service import request_cancel

    try:
        for run in SyncRun.objects.active():
            request_cancel(run)
            say(f"sync run #{run.pk} cancelled (the next start syncs again)")
    except DatabaseError as error:
        say(f"could not cancel active syncs: {error}")
    finally:
        connection.close()


def reports_show_data(site: str, password: str) -> bool:
    """Log in like a person and look for a synced room's name on the reports page."""
    from django.db import connection

    from insights_app.models import Room

    names = list(Room.objects.order_by("-total_sessions").values_list("room_name", flat=True)[:20])
    connection.close()
    if not names:
        return False
    with requests.Session() as browser:
        login_url = f"{site}/admin/login/"
        page = browser.get(login_url, timeout=10)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        if not token:
            return False
        browser.post(
            login_url,
            data={
                "csrfmiddlewaretoken": token.group(1),
                "username": ADMIN_USER,
                "password": password,
                "next": "/",
            },
            headers={"Referer": login_url},
            timeout=10,
        )
        reports = browser.get(f"{site}/insights/", timeout=30)
    return reports.status_code == 200 and any(escape(name) in reports.text for name in names)


def run(args: argparse.Namespace) -> int:
    """Start everything, print where to look, and keep watch until stopped."""
    started = time.monotonic()
    env = base_env(args)
    log_dir = Path(args.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    children = Children(log_dir, env, ROOT)
    install_signal_handlers()
    try:
        use_simulator = args.simulator or not os.environ.get("WHEREBY_API_KEY")
        if use_simulator:
            _site_port, sim_port = choose_ports(args.port, args.sim_port)
            start_simulator(children, args, env, sim_port)
        elif not port_is_free(args.port):
            raise PortProblem(
                f"port {args.port} is in use: stop what runs there, or choose another (DEMO_PORT)"
            )
        else:
            say(
                f"WHEREBY_API_KEY is set: syncing your real organisation from {env.get('WHEREBY_API_BASE_URL') or 'https://api.whereby.dev/v1'}"
            )
        children.env = env
        if use_simulator and not os.environ.get("DATABASE_URL") and not args.keep_data:
            fresh_database(Path(args.db))
        children.start("migrate", [PYTHON, MANAGE, "migrate", "--noinput"], may_exit=True).process.wait()
        if children.items[-1].process.returncode != 0:
            raise RuntimeError(f"migrate failed:\n{children.items[-1].log_tail()}")
        say(f"database migrated: {env['DATABASE_URL']}")
        setup_django(env)
        ensure_admin(args.password)

        sync_child = None
        if redis_answers(env["REDIS_URL"]):
            from insights_app.conf import get_settings

            queue = get_settings().QUEUE
            for number in range(1, args.workers + 1):
                # The app's worker class: a stopped worker's run is seen dead in seconds (docs/deployment.md).
                worker = [
                    PYTHON,
                    MANAGE,
                    "rqworker",
                    queue,
                    "--with-scheduler",
                    "--worker-class",
                    WORKER_CLASS,
                ]
                children.start(f"rqworker-{number}", worker)
            # A full first sync: the reports' "no full sync yet" would otherwise stay until someone starts one.
            # Queued before rqcron starts: a demo started on a schedule's tick got the cron's incremental
            # sync as its first run.
            first = [PYTHON, MANAGE, "insights_sync", "--enqueue", "--full"]
            try:
                children.start("first-sync", first, may_exit=True).process.wait(
                    timeout=FIRST_SYNC_QUEUED_WITHIN
                )
                say("first sync (full) queued (the worker runs it; watch it on the sync dashboard)")
            except subprocess.TimeoutExpired:
                say("the first sync (full) is still being queued (see first-sync.log)")
            children.start("rqcron", [PYTHON, MANAGE, "rqcron", "insights_app.cron"])
            say(f"Redis answers at {env['REDIS_URL']}: {args.workers} RQ worker(s) on {queue!r}, and rqcron")
        else:
            say(
                f"Redis does not answer at {env['REDIS_URL']}: no worker and no cron; the first sync runs in "
                "a child process of this script, and again every few minutes while the demo runs"
            )
            sync_child = children.start("sync", [PYTHON, MANAGE, "insights_sync", "--full"], may_exit=True)

        site = f"http://127.0.0.1:{args.port}"
        if not port_is_free(args.port):  # taken while we prepared: say so rather than let runserver die
            raise PortProblem(
                f"port {args.port} was taken while the demo started: choose another (DEMO_PORT)"
            )
        server = children.start(
            "runserver",
            [PYTHON, MANAGE, "runserver", f"127.0.0.1:{args.port}", "--noreload", "--insecure"],
            log=args.check,
        )
        wait_http(f"{site}/admin/login/", child=server)
        say(f"site: {site}/admin/  reports: {site}/insights/  login: {ADMIN_USER} / {args.password}")
        say(f"logs: {log_dir}/  (Ctrl-C stops everything)")
        return watch(args, children, site, started, sync_child)
    except Stop as stop:
        say(f"{stop}: stopping")
        return 0
    except RuntimeError as error:
        say(f"error: {error}")
        return 1
    finally:
        ignore_signals()
        try:
            if "django" in sys.modules and django_ready():
                cancel_active_runs()
        except Exception as error:  # whatever happens here, the children must still be stopped
            say(f"could not cancel active syncs: {error}")
        finally:
            children.stop_all()
            say("all demo processes stopped")


def watch(args: argparse.Namespace, children: Children, site: str, started: float, sync_child) -> int:
    """Report progress once, say when data reaches the reports, re-sync without Redis; watch children."""
    shown_data = False
    last_status = ""
    next_local_sync = None
    while True:
        stop_if_requested()
        dead = children.died()
        if dead:
            raise RuntimeError(f"{dead.name} exited with {dead.process.returncode}:\n{dead.log_tail()}")
        rooms, sessions, status = data_state()
        if status != last_status:
            say(f"sync: {status} ({rooms} rooms, {sessions} sessions stored)")
            last_status = status
        if not shown_data and sessions and reports_show_data(site, args.password):
            shown_data = True
            say(f"data in the reports {time.monotonic() - started:.0f} s after start: {site}/insights/")
            if args.check:
                return 0
        if args.check and time.monotonic() - started > args.timeout:
            say(f"no data in the reports after {args.timeout:.0f} s")
            return 1
        if sync_child is not None and sync_child.process.poll() is not None:
            # Without Redis this script is the scheduler: sync again a minute after the last one ended.
            if next_local_sync is None:
                say(f"in-process sync ended with exit code {sync_child.process.returncode}")
                next_local_sync = time.monotonic() + 60
            elif time.monotonic() >= next_local_sync:
                sync_child = children.start("sync", [PYTHON, MANAGE, "insights_sync"], may_exit=True)
                next_local_sync = None
        time.sleep(2)


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``make demo``."""
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
