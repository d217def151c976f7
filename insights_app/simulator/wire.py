"""The simulator's HTTP plumbing: a threaded server, a handler passing every method on, delivery."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

from .replies import Reply


class SimulatorServer(Protocol):
    """What the plumbing needs of the simulator (``server.SimulatorServer``)."""

    _log_lock: threading.Lock
    _open: set[socket.socket]

    def handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        """Answer one request."""


class SimulatorHTTPServer(ThreadingHTTPServer):
    """Knows its simulator; handler threads never keep the process alive."""

    daemon_threads = True
    simulator: SimulatorServer


class SimulatorHandler(BaseHTTPRequestHandler):
    """Hands every method to the simulator; keeps connections alive like a real API."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY each response waits ~40 ms
    # for the client's delayed ACK.
    disable_nagle_algorithm = True
    # Status line, headers and body leave in one write (one segment for most answers), as a real
    # API's front end sends them; unbuffered, each went out on its own and a client read twice.
    wbufsize = 64 * 1024
    server_version = "WherebyInsightsSimulator/1.0"
    timeout = 30
    server: SimulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.simulator._log_lock:
            self.server.simulator._open.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.simulator._log_lock:
                self.server.simulator._open.discard(self.connection)

    def _any(self) -> None:
        self.server.simulator.handle(self, self.command)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = _any

    def __getattr__(self, name: str) -> object:
        """Any other method (CONNECT, PROPFIND, ...) is answered by the simulator too, never with 501."""
        if name.startswith("do_"):
            return self._any
        raise AttributeError(name)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the request log lives in ``SimulatorServer.request_log``."""


def write_reply(
    handler: BaseHTTPRequestHandler, reply: Reply, stopping: threading.Event, *, head: bool = False
) -> None:
    """Deliver a reply, or deliberately fail to; a HEAD gets GET's headers (Content-Length too), no body."""
    if reply.mode == "drop":
        handler.close_connection = True
        return
    handler.send_response(reply.status)
    for name, value in reply.headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(reply.body)))
    if head:
        handler.end_headers()
        return
    if reply.mode == "truncate":
        handler.send_header("Connection", "close")
    handler.end_headers()
    if reply.mode == "truncate":
        handler.wfile.write(reply.body[: len(reply.body) // 2])
        handler.wfile.flush()
        handler.close_connection = True
        return
    if reply.mode == "trickle":
        _trickle(handler, reply, stopping)
        return
    handler.wfile.write(reply.body)


def _trickle(handler: BaseHTTPRequestHandler, reply: Reply, stopping: threading.Event) -> None:
    """Write the body a few bytes at a time until done, the client hangs up or the server stops."""
    interval, size = reply.trickle
    handler.wfile.flush()
    try:
        for start in range(0, len(reply.body), size):
            if stopping.wait(interval):
                break
            handler.wfile.write(reply.body[start : start + size])
            handler.wfile.flush()
    except OSError:  # the client gave up: exactly what a trickle is meant to provoke
        pass
    handler.close_connection = True
