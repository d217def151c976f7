"""A total deadline for one outbound call (a hook or a mail server), whatever the server does."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class DeadlineExceeded(Exception):
    """The call did not finish within its deadline; the text says how long it was given."""


def call_within(seconds: float, call: Callable[[], T], what: str) -> T:
    """``call()`` in a helper thread, given up after ``seconds`` (raises DeadlineExceeded).

    Socket timeouts bound each read, not the whole answer: a server trickling a byte a second would
    hold the caller for ever. The abandoned thread keeps its socket until that read times out; RQ's
    work horse exits after the job, which ends it.
    """
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the caller, who decides
            outcome["error"] = exc

    thread = threading.Thread(target=run, name=f"insights-deadline-{what}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise DeadlineExceeded(f"{what} gave no complete answer within {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
