"""Which rate limiter the API runs (fixed window, sliding window, token bucket), read from the headers."""

from __future__ import annotations

import bisect
import itertools
import threading
from collections import deque
from dataclasses import dataclass

FIXED, SLIDING, BUCKET, UNKNOWN = "fixed", "sliding", "bucket", "unknown"
SHAPES = (FIXED, SLIDING, BUCKET)

# Remaining that rose between our answers counts as one event per this many seconds: a fixed window's
# reset seen by several calls in flight at once is one event, not several.
_EVENT_SECONDS = 1.0
# A fixed window of a minute rises once a minute: rises closer together than this say it is not one.
_FIXED_MIN_EVENT_GAP = 40.0
# Without a usable X-RateLimit-Reset, a fixed window is recognised once this span of answers showed
# it: its reset (a rise) and nothing else rising; a sliding window's first minute looks like a fixed
# window's (nothing of ours has aged out yet), so the span must reach past a minute.
_FIXED_SPAN_SECONDS = 90.0
# With X-RateLimit-Reset: this many answers naming one reset instant while Remaining only fell.
# (A sliding window's or a bucket's reset instant moves with every call: it is when Remaining is back
# at the limit.)
_FIXED_BY_RESET_ANSWERS = 3
_FIXED_BY_RESET_SECONDS = 2.0
# Answers of ours counted when testing for a sliding window (it holds every point of the last minute).
_RECENT_SECONDS = 50.0
# Answers that must contradict a sliding window (fewer points missing than calls answered) for a bucket.
_BUCKET_VOTES = 2
# Answers kept to judge the next ones by.
_KEPT_ANSWERS = 512
# A sliding window's Reset (when every point of the last minute has aged out) moves on with each
# call, a second at a time; a fixed window's stays put within a window (read from a seconds-to-go
# header it jitters by a second, as often back as on). Steps of Reset between two answers within
# these bounds (seconds) are counted; this many forward in _RECENT_SECONDS, and four times as many
# as back, say it is not a fixed window (a sliding window whose Remaining only fell after one rise
# was taken for one at 90 s, its costs read from falls: 3 for a true 7, 1.67 times the share spent).
_DRIFT_STEP_SECONDS = (0.5, 5.0)
_DRIFT_STEPS = 10
# A shape that is not fixed is named after this span of answers (a bucket's refill shows at once,
# a sliding window's only once our own calls of a minute ago age out).
_NOT_FIXED_SPAN_SECONDS = 70.0


@dataclass(frozen=True)
class Answer:
    """One charged answer's rate headers, on this process's monotonic clock."""

    sent: float
    answered: float
    remaining: float
    reset: float | None  # the reset instant it named (epoch seconds), when readable


class ShapeWatch:
    """Names the limiter from how ``X-RateLimit-Remaining`` moves between our answers.

    Under a fixed window Remaining never rises between an answer and a later call's answer, except
    once a window (its reset), and the answers of a window name one reset instant. Under a sliding
    window or a token bucket it rises often: points of a minute ago age out, the bucket refills. A
    sliding window holds every point of the last minute, so it never misses fewer points than the
    calls we had answered in it; a bucket that refills does. Until the evidence says, the shape is
    unknown, and the budget assumes the case that can never overspend.
    """

    def __init__(self) -> None:
        self._answers: deque[Answer] = deque(maxlen=_KEPT_ANSWERS)
        # The kept answers' times, sorted: how many came since an instant is two bisections, where a
        # scan of the kept answers on every answer was quadratic at a fast API's pace.
        self._answered_times: list[float] = []
        self._events: deque[float] = deque(maxlen=64)  # when Remaining rose (one per _EVENT_SECONDS)
        self._first: float | None = None
        self._bucket_votes: deque[float] = deque(maxlen=16)  # answers a sliding window cannot give
        # The answers naming the current reset instant: the first, the last, how many, and whether
        # Remaining fell from each to the next sent after it (kept as it goes: a window may hold
        # thousands of answers, and every answer is judged).
        self._same_first: Answer | None = None
        self._same_last: Answer | None = None
        self._same_count = 0
        self._same_falling = True
        self._last_reset: float | None = None
        self._reset_steps: deque[tuple[float, bool]] = deque(maxlen=128)  # (answered, forward)
        self._shape = UNKNOWN
        self._lock = threading.Lock()

    @property
    def shape(self) -> str:
        """FIXED, SLIDING, BUCKET or UNKNOWN."""
        with self._lock:
            return self._shape

    def note(self, answer: Answer, limit: float) -> str:
        """Take one charged answer (headers already checked against the plan); returns the shape."""
        with self._lock:
            if self._first is None:
                self._first = answer.answered
            before = self._last_answered_by(answer.sent, 3)
            if before:
                # Our call cost at least a point: under a fixed window Remaining is now below every
                # answer of the window we had before sending it. The second lowest of the last three:
                # one answer lying low (a Remaining of 0) is not taken for a rise.
                floor = sorted(a.remaining for a in before)[min(1, len(before) - 1)]
                # One rise is one event: the answers before it stay among the three for two more
                # answers, which then read as rises too (at a call a second, one reset of a fixed
                # window made two events 2 s apart, and the window was taken for a bucket).
                if answer.remaining > floor - 0.5 and (
                    not self._events
                    or (
                        answer.answered > self._events[-1] + _EVENT_SECONDS
                        and all(a.answered >= self._events[-1] for a in before)
                    )
                ):
                    self._events.append(answer.answered)
            recent = self._answered_since(answer.answered - _RECENT_SECONDS)
            if limit - answer.remaining < recent - 1:
                self._bucket_votes.append(answer.answered)  # fewer points missing than calls answered
            self._keep(answer)
            self._track_reset(answer)
            self._track_drift(answer)
            self._shape = self._decide(answer.answered)
            return self._shape

    def _last_answered_by(self, instant: float, count: int) -> list[Answer]:
        """The last ``count`` answers received by ``instant``, oldest first (read from the newest)."""
        found: list[Answer] = []
        for earlier in reversed(self._answers):
            if earlier.answered <= instant:
                found.append(earlier)
                if len(found) == count:
                    break
        return found[::-1]

    def _keep(self, answer: Answer) -> None:
        """Keep ``answer`` among the last _KEPT_ANSWERS, and its time among theirs."""
        if len(self._answers) == _KEPT_ANSWERS:
            gone = self._answers[0].answered
            del self._answered_times[bisect.bisect_left(self._answered_times, gone)]
        self._answers.append(answer)
        bisect.insort(self._answered_times, answer.answered)

    def _answered_since(self, instant: float) -> int:
        """Kept answers received at or after ``instant`` (threads may have swapped neighbours)."""
        return len(self._answered_times) - bisect.bisect_left(self._answered_times, instant)

    def _track_reset(self, answer: Answer) -> None:
        first = self._same_first
        if answer.reset is None or (
            first is not None and first.reset is not None and abs(first.reset - answer.reset) > 0.5
        ):
            self._same_first, self._same_last, self._same_count, self._same_falling = None, None, 0, True
            if answer.reset is None:
                return
        last = self._same_last
        if last is not None and answer.sent >= last.answered and not answer.remaining < last.remaining:
            self._same_falling = False
        if self._same_first is None:
            self._same_first = answer
        self._same_last = answer
        self._same_count += 1

    def _track_drift(self, answer: Answer) -> None:
        if answer.reset is None:
            return
        last, self._last_reset = self._last_reset, answer.reset
        if last is not None and _DRIFT_STEP_SECONDS[0] <= abs(answer.reset - last) <= _DRIFT_STEP_SECONDS[1]:
            self._reset_steps.append((answer.answered, answer.reset > last))

    def _reset_drifts(self, now: float) -> bool:
        """Whether Reset moved on with our calls lately, as no fixed window's does."""
        recent = [forward for at, forward in self._reset_steps if at >= now - _RECENT_SECONDS]
        forward = sum(recent)
        return forward >= _DRIFT_STEPS and forward >= 4 * (len(recent) - forward)

    def _frequent_rises(self) -> bool:
        events = list(self._events)
        return any(later - earlier < _FIXED_MIN_EVENT_GAP for earlier, later in itertools.pairwise(events))

    def _decide(self, now: float) -> str:
        if self._frequent_rises():
            if sum(1 for t in self._bucket_votes if t >= now - 2 * _RECENT_SECONDS) >= _BUCKET_VOTES:
                return BUCKET
            assert self._first is not None
            return SLIDING if now - self._first >= _NOT_FIXED_SPAN_SECONDS else UNKNOWN
        if self._reset_drifts(now):
            return UNKNOWN
        first, last = self._same_first, self._same_last
        if (
            first is not None
            and last is not None
            and self._same_count >= _FIXED_BY_RESET_ANSWERS
            and last.answered - first.answered >= _FIXED_BY_RESET_SECONDS
            and self._same_falling
        ):
            return FIXED
        assert self._first is not None
        if self._events and now - self._first >= _FIXED_SPAN_SECONDS:
            return FIXED
        return self._shape if self._shape == FIXED else UNKNOWN
