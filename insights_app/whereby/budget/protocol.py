"""What the client needs from a rate budget (the protocol both budgets implement)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from .figures import BudgetFigures


class RateBudget(Protocol):
    """What the client needs from a budget."""

    def figures(self) -> BudgetFigures:
        """The plan and our budget right now."""

    def acquire(
        self, points: int = 1, interrupt: Callable[[], bool] | None = None, unpaced: bool = False
    ) -> float:
        """Block until ``points`` may be spent (``interrupt`` can stop the wait); returns seconds waited.
        ``unpaced``: a call that learns a cost waits only for the rolling minute, not for pacing."""

    def settle(self, points: int) -> None:
        """Charge points already spent beyond what was acquired (a call dearer than expected)."""

    def pause(self, seconds: float) -> None:
        """Make every process sharing this budget wait ``seconds`` before its next call."""

    def available(self) -> float:
        """Tokens available right now (for the dashboard)."""

    def points_for(self, endpoint: str) -> int:
        """Points to reserve for one call to ``endpoint``."""

    def sends_alone(self, endpoint: str) -> bool:
        """Whether ``endpoint``'s cost is still being learned (the client then sends its calls alone,
        or two together, so that the fall of X-RateLimit-Remaining is the call's cost)."""

    def unpaced(self, endpoint: str) -> bool:
        """Whether a call to ``endpoint`` waits only for the rolling minute, not for pacing (a call that
        learns a cost under a fixed window: sent right after the previous answer)."""

    def sending(self, endpoint: str) -> None:
        """A call to ``endpoint`` is about to be sent."""

    def answered(
        self, endpoint: str, status: int | None, headers: Mapping[str, str], owner: object = None
    ) -> int:
        """Learn from an answer (plan, cost); returns what the call cost, as far as we know."""

    def charged(self, endpoint: str) -> tuple[int, bool]:
        """What a call to ``endpoint`` was charged, as far as the headers tell now, and whether that is
        learned (else an estimate: the limiter or the cost is not known for good yet)."""

    def low_remaining(self) -> float:
        """The X-RateLimit-Remaining at which every process pauses until the API's reset."""
