"""One connection's detail array made into rows, without the database: runs in a fetch thread, so the
sync's thread only writes (and parsing overlaps its waits on the database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .items import DETAIL_FIELDS, BadItem, parse_item, with_json
from .quality import describe_user_agent, normalise_samples

SAMPLES = "samples"


@dataclass
class DetailRows:
    """The rows of one connection's detail array and what the run must be told about it.

    ``events`` are (skipped, reason) in item order: a refused item (skipped) or a value stored as
    null or cut short (a note). ``positions`` are the positions to keep: stored rows, and refused
    items, whose row stored before stays.
    """

    answered: bool  # False for an empty array: the API has nothing (any more)
    rows: list[dict[str, Any]] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    events: list[tuple[bool, str]] = field(default_factory=list)
    ambiguous_units: int = 0
    incomplete: bool = False  # an item was refused: the connection stays pending


def detail_rows(
    items: list[Any], *, threshold: float, declared_unit: str, samples_text: bool = False
) -> DetailRows:
    """Rows for each item of a detail array (``samples_text``: keep the samples' JSON for the write)."""
    prepared = DetailRows(answered=bool(items))
    for position, item in enumerate(items):
        try:
            # The samples are normalised into their own column and are not part of ``raw``: the
            # item is parsed without them, so its JSON text (NUL check, size check, the raw kept)
            # is a few hundred characters, not the thousands of numbers (bench/RESULTS.md, issue 28).
            parsed = parse_item(_without_samples(item), DETAIL_FIELDS)
        except BadItem as exc:
            prepared.events.append((True, str(exc)))
            prepared.incomplete = True
            prepared.positions.append(position)  # a row stored earlier for it stays
            continue
        normalised = normalise_samples(
            item.get(SAMPLES),
            parsed.values["sample_rate_ms"],
            threshold_percent=threshold,
            declared_unit=declared_unit,
        )
        prepared.events.extend((False, note) for note in (*parsed.notes, *normalised.notes))
        if normalised.ambiguous_unit:
            prepared.ambiguous_units += 1
        samples: dict[str, Any] = normalised.samples
        if samples_text:  # made here, in the fetch thread, rather than by the write
            samples = with_json(samples)
        prepared.rows.append(
            {
                **parsed.values,
                **normalised.summary,
                **describe_user_agent(parsed.values["user_agent"]),
                "position": position,
                "samples": samples,
                "packet_loss_unit": normalised.unit,
                "raw": _raw(parsed.raw),
            }
        )
        prepared.positions.append(position)
    return prepared


def _without_samples(item: Any) -> Any:
    if isinstance(item, dict) and SAMPLES in item:
        return {k: v for k, v in item.items() if k != SAMPLES}
    return item  # not an object: parse_item says why it cannot be stored


def _raw(raw: dict[str, Any]) -> dict[str, Any]:
    # A key that reads "samples" only once NULs are removed from it was dropped from raw before too.
    return {k: v for k, v in raw.items() if k != SAMPLES} if SAMPLES in raw else raw
