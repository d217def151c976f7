"""A room's listed sessions waiting for their newest-first step, kept small in memory.

A full sync lists a room's sessions once, in the first step that needs the room, and keeps those that
belong to later steps until their step comes. Held as objects, that was a few hundred bytes a session:
at 5,000 rooms (100,000 sessions) the sync's memory grew by tens of MiB. Here a session left for later
is three numbers in arrays (its start, key and whether this run created it), and the rest is read
back from the database at its step (``NewestFirst._resolved``).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .stages import SessionRef

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_UNKNOWN = -(2**63)  # a session without a start (only the last step, the whole history, reads it)


@dataclass(frozen=True, slots=True)
class LaterSession:
    """A session listed for a later step: its key alone, until its step reads the rest back."""

    pk: int
    is_new: bool


def _micros(started: datetime | None) -> int:
    return _UNKNOWN if started is None else (started - _EPOCH) // _MICROSECOND


def _started(micros: int) -> datetime | None:
    return None if micros == _UNKNOWN else _EPOCH + micros * _MICROSECOND


class SessionQueue:
    """A room's sessions still to read: those of the current step as refs, later ones as numbers."""

    __slots__ = ("_due", "_is_new", "_pks", "_started")

    def __init__(self, listed: list[tuple[Any, SessionRef]], cutoff: datetime | None) -> None:
        self._due = [item for item in listed if is_due(item[0], cutoff)]
        later = [(started, ref) for started, ref in listed if not is_due(started, cutoff)]
        self._started = array("q", (_micros(started) for started, _ref in later))
        self._pks = array("q", (ref.pk for _started, ref in later))
        self._is_new = array("b", (ref.is_new for _started, ref in later))

    def __len__(self) -> int:
        return len(self._due) + len(self._pks)

    def __bool__(self) -> bool:
        return bool(self._due) or bool(self._pks)

    def __iter__(self) -> Iterator[tuple[Any, SessionRef | LaterSession]]:
        yield from self._due
        for micros, pk, is_new in zip(self._started, self._pks, self._is_new, strict=True):
            yield _started(micros), LaterSession(pk, bool(is_new))

    def take(self, cutoff: datetime | None, into: DueSessions) -> None:
        """Move the sessions due in the step of ``cutoff`` into ``into``; the rest stay."""
        for started, ref in self._due:
            into.add(started, ref)
        self._due = []
        kept: tuple[list[int], list[int], list[int]] = ([], [], [])
        for micros, pk, is_new in zip(self._started, self._pks, self._is_new, strict=True):
            if is_due(_started(micros), cutoff):
                into.add_later(micros, pk, bool(is_new))
            else:
                kept[0].append(micros)
                kept[1].append(pk)
                kept[2].append(is_new)
        self._started, self._pks, self._is_new = array("q", kept[0]), array("q", kept[1]), array("b", kept[2])


class DueSessions:
    """The sessions of one step across rooms, handed out newest first; numbers until handed out."""

    def __init__(self) -> None:
        self._refs: list[tuple[Any, SessionRef | LaterSession]] = []
        self._started = array("q")
        self._ids = array("q")  # a later session's pk, or -1 - its index in _refs
        self._is_new = array("b")

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, started: datetime | None, ref: SessionRef | LaterSession) -> None:
        """A session held as a ref (listed in this step)."""
        self._started.append(_micros(started))
        self._ids.append(-1 - len(self._refs))
        self._is_new.append(0)
        self._refs.append((started, ref))

    def add_later(self, micros: int, pk: int, is_new: bool) -> None:
        """A session held as numbers (listed in an earlier step)."""
        self._started.append(micros)
        self._ids.append(pk)
        self._is_new.append(is_new)

    def newest_first(self) -> Iterator[tuple[Any, SessionRef | LaterSession]]:
        """Every session, the newest first (those without a start last)."""
        for index in sorted(range(len(self._ids)), key=self._started.__getitem__, reverse=True):
            ident = self._ids[index]
            if ident < 0:
                yield self._refs[-1 - ident]
            else:
                yield _started(self._started[index]), LaterSession(ident, bool(self._is_new[index]))


def is_due(started: datetime | None, cutoff: datetime | None) -> bool:
    """Whether a session that started then is read in the step of ``cutoff`` (None: every session)."""
    return cutoff is None or (started is not None and started >= cutoff)
