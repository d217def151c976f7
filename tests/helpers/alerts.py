"""Helpers for the alert tests: a real local HTTP hook receiver and a tick that runs queued jobs."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOOK_TOKEN = "hook-token-5d1e77c2"
HOOK_PATH = "/services/T000/B000/s3cr3tHookPath9x"


class HookServer:
    """An incoming-webhook endpoint on 127.0.0.1: records every POST; fails the first ``fail`` ones."""

    def __init__(self, fail: int = 0, status: int = 500) -> None:
        self.fail = fail
        self.status = status
        # Seconds between the bytes of a trickled answer (0: answer at once), as a slow hook does.
        self.trickle = 0.0
        self.posts: list[dict] = []
        self.attempts = 0
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hook._lock:
                    hook.attempts += 1
                    failing = hook.fail > 0
                    if failing:
                        hook.fail -= 1
                    else:
                        hook.posts.append(
                            {
                                "path": self.path,
                                "auth": self.headers.get("Authorization"),
                                "type": self.headers.get("Content-Type"),
                                "body": json.loads(body),
                            }
                        )
                if hook.trickle:
                    with contextlib.suppress(OSError):  # the client gave up: that is the point
                        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
                            time.sleep(hook.trickle)
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                    return
                self.send_response(hook.status if failing else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}{HOOK_PATH}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def drain(queue_name: str = "default") -> None:
    """Run every job waiting on ``queue_name`` in this process with a real RQ worker (burst)."""
    import django_rq
    from rq import SimpleWorker

    queue = django_rq.get_queue(queue_name)
    SimpleWorker([queue], connection=queue.connection).work(burst=True, logging_level="WARNING")
