"""A stop that lands inside an object's ``__init__`` (a psycopg server cursor being made) prints no
"Exception ignored" traceback when that half-built object is collected."""

from __future__ import annotations

import gc
import os
import signal
import sys
import time

import psycopg
import pytest

from insights_app.management.commands.insights_sync import StopRequested, stop_on_signals


def half_built_cursor() -> None:
    """A server cursor whose ``__init__`` never ran, as one a stop interrupted: its ``__del__`` fails."""
    cursor = object.__new__(psycopg.ServerCursor)
    del cursor
    gc.collect()


def test_after_a_stop_a_half_built_cursor_is_collected_without_a_traceback(monkeypatch):
    monkeypatch.setattr(sys, "unraisablehook", sys.unraisablehook)  # put back after the test
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    with pytest.raises(StopRequested), stop_on_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises at once
    half_built_cursor()
    assert seen == []


def test_without_a_stop_the_same_failure_is_still_reported(monkeypatch):
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    with stop_on_signals():
        half_built_cursor()
    assert [type(u.exc_value) for u in seen] == [AttributeError]
    assert sys.unraisablehook == seen.append  # the command's hook is gone once it ends without a stop
