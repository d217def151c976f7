"""The progress of a sync run in a terminal: a tqdm bar, or plain lines where there is no terminal or tqdm."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..display.durations import format_duration
from ..models import SyncRun
from ..sync.estimate import estimate_for, work_done, work_percent

# Plain progress lines (no terminal, or no tqdm): one at the start, then at most one per interval,
# so a log or CI output gets a sign of life without a line per room.
PLAIN_PROGRESS_SECONDS = 10.0


class ProgressBar:
    """A tqdm bar on a terminal with tqdm installed; plain progress lines otherwise, throttled."""

    def __init__(self, *, write: Callable[[str], None], tty: bool) -> None:
        self._bar: Any = None
        self._write = write
        self._last_line: float | None = None
        if tty:
            try:
                from tqdm import tqdm
            except ImportError:  # tqdm is the optional extra "progress": plain lines then
                return
            self._bar = tqdm(total=0, unit="room", desc="syncing")

    def update(self, run: SyncRun) -> None:
        estimate = estimate_for(run)
        done = work_done(run, estimate)
        if self._bar is None:
            self._plain(run, estimate, done)
            return
        rooms = max(run.progress_total, run.progress_done)
        if estimate is None or done is None:
            self._bar.unit, self._bar.total, self._bar.n = "room", rooms, run.progress_done
            self._bar.set_postfix(api=run.api_requests, refresh=False)
        else:
            # The share of the estimated work: it moves with every call, where finished rooms wait
            # for a full sync's last newest-first step. points_left and eta: estimates at the current
            # budget (docs/budget.md).
            self._bar.unit, self._bar.total, self._bar.n = "%", 100, work_percent(done)
            self._bar.set_postfix(
                rooms=f"{run.progress_done}/{rooms}",
                api=run.api_requests,
                points_left=f"~{estimate.points}",
                eta=f"~{format_duration(estimate.seconds)}",
                refresh=False,
            )
        self._bar.refresh()

    def _plain(self, run: SyncRun, estimate: Any, done: float | None) -> None:
        now = time.monotonic()
        if self._last_line is not None and now - self._last_line < PLAIN_PROGRESS_SECONDS:
            return
        self._last_line = now
        total = max(run.progress_total, run.progress_done)
        line = f"syncing: {run.progress_done}/{total} rooms"
        if done is not None:
            line += f" (about {work_percent(done)} % of the work)"
        line += f", {run.api_requests} API calls"
        if estimate is not None:
            line += f", ~{estimate.points} points and ~{format_duration(estimate.seconds)} left"
        self._write(line)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
