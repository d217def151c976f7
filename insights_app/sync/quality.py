"""Network-quality samples: normalise packet loss to percent, summarise, and name the browser."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain, zip_longest
from typing import Any, cast

from ua_parser import parse as parse_user_agent

from ..models.participant_detail import DEFAULT_SAMPLE_RATE_MS
from .items import as_number

SAMPLE_KEYS = ("packetLossSend", "packetLossRecv", "bitrateSend", "bitrateRecv")
LOSS_KEYS = ("packetLossSend", "packetLossRecv")


@dataclass
class NormalisedSamples:
    """The four arrays with loss in percent, how loss arrived, and a summary for reports."""

    samples: dict[str, list[float | None]]
    unit: str
    ambiguous_unit: bool
    summary: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


# Physically possible ranges; values outside are dropped (null) with a reason. Loss is checked
# before the unit is detected, so one absurd value cannot make a fraction array look like percent.
LOSS_RANGE = (0.0, 100.0)
BITRATE_RANGE = (0.0, 1e12)  # 1 Tbit/s
# ua-parser's regexes take seconds on a megabyte of text; real user agents are a few hundred characters.
UA_PARSE_LIMIT = 1024
_NUMBERS_OR_NULL = frozenset({int, float, type(None)})


def _clean_series(value: Any, key: str, notes: list[str]) -> list[float | None]:
    if not isinstance(value, list):
        return []
    low, high = LOSS_RANGE if key in LOSS_KEYS else BITRATE_RANGE
    types = set(map(type, value))
    # The usual array: numbers within range (so finite: NaN fails both tests) and gaps, checked in C.
    if types <= _NUMBERS_OR_NULL:
        present = [v for v in value if v is not None] if type(None) in types else value
        if all(map(low.__le__, present)) and all(map(high.__ge__, present)):
            return value[:] if int not in types else [None if v is None else float(v) for v in value]
    cleaned: list[float | None] = []
    for raw_value in value:
        kind = type(raw_value)
        # The usual cases inline (a call per sample was most of the time spent on a detail array).
        if kind is float:
            number = raw_value if math.isfinite(raw_value) else None
        elif kind is int and -1e300 < raw_value < 1e300:
            number = float(raw_value)
        else:
            number = as_number(raw_value)
        if number is not None and not low <= number <= high:
            note = f"{key} value {'below' if number < low else 'above'} {low if number < low else high:g} (dropped)"
            if note not in notes:
                notes.append(note)
            number = None
        cleaned.append(number)
    return cleaned


def detect_loss_unit(series: list[list[float | None]], declared: str = "auto") -> tuple[str, bool]:
    """("fraction" | "percent" | "", ambiguous): any value above 1 means percent; all within 0–1 means fraction.

    All values within 0–1 could also be a very good call measured in percent; that case is reported
    as ambiguous so the sync can say how many items it read as fractions. ``declared`` overrides.
    """
    values = list(chain.from_iterable(map(_present, series)))
    if not any(values):  # none, or all zero (for numbers, "v == 0" is "not v"; NaN is neither)
        return "", False
    if declared in ("fraction", "percent"):
        return declared, False
    if max(values) > 1.0:
        return "percent", False
    return "fraction", True


def normalise_samples(
    raw_samples: Any, sample_rate_ms: float | None, *, threshold_percent: float, declared_unit: str = "auto"
) -> NormalisedSamples:
    """Clean the four arrays (impossible values dropped, each kind named in ``notes``), convert loss
    to percent, and compute the report summary."""
    raw = raw_samples if isinstance(raw_samples, dict) else {}
    notes: list[str] = []
    series = {key: _clean_series(raw.get(key), key, notes) for key in SAMPLE_KEYS}
    unit, ambiguous = detect_loss_unit([series[k] for k in LOSS_KEYS], declared_unit)
    if unit == "fraction":
        for key in LOSS_KEYS:
            series[key] = [None if v is None else v * 100.0 for v in series[key]]
    step_seconds = (
        sample_rate_ms if sample_rate_ms and sample_rate_ms > 0 else DEFAULT_SAMPLE_RATE_MS
    ) / 1000
    summary = summarise(series, step_seconds, threshold_percent)
    return NormalisedSamples(
        samples=series, unit=unit, ambiguous_unit=ambiguous, summary=summary, notes=tuple(notes)
    )


def _present(values: list[float | None]) -> list[float]:
    # Most arrays have no gap: the scan for one runs in C, and the array is used as it is.
    return [v for v in values if v is not None] if None in values else cast(list[float], values)


def _avg(values: list[float | None]) -> float | None:
    present = _present(values)
    return sum(present) / len(present) if present else None


def _max(values: list[float | None]) -> float | None:
    present = _present(values)
    return max(present) if present else None


def _degraded_steps(send: list[float | None], recv: list[float | None], threshold: float) -> int:
    """Steps whose worse loss (send or receive, whichever is known) is at or above ``threshold``."""
    bar = float(threshold)
    if bar > _NOTHING:
        # Counted in C, gaps and the shorter array's missing tail read as -inf (below any threshold
        # we accept): a Python step per sample was most of the summary's time (bench/RESULTS.md,
        # issue 28 round 8).
        steps = max(len(send), len(recv))
        return sum(map(bar.__le__, map(max, _filled(send, steps), _filled(recv, steps))))
    degraded = 0
    for sent, received in zip_longest(send, recv):
        worst = sent if received is None else received if sent is None else max(sent, received)
        if worst is not None and worst >= threshold:
            degraded += 1
    return degraded


_NOTHING = -math.inf


def _filled(values: list[float | None], steps: int) -> list[float]:
    filled = [_NOTHING if v is None else v for v in values] if None in values else values
    return cast(list[float], filled + [_NOTHING] * (steps - len(values)) if len(values) < steps else filled)


def summarise(series: dict[str, list[float | None]], step_seconds: float, threshold: float) -> dict[str, Any]:
    """Summary columns of ParticipantDetail from normalised arrays."""
    send, recv = series["packetLossSend"], series["packetLossRecv"]
    steps = max((len(s) for s in series.values()), default=0)
    degraded_steps = _degraded_steps(send, recv, threshold)
    return {
        "sample_count": steps,
        "avg_packet_loss_send": _avg(send),
        "max_packet_loss_send": _max(send),
        "avg_packet_loss_recv": _avg(recv),
        "max_packet_loss_recv": _max(recv),
        "avg_bitrate_send": _avg(series["bitrateSend"]),
        "avg_bitrate_recv": _avg(series["bitrateRecv"]),
        "degraded_seconds": degraded_steps * step_seconds,
    }


def describe_user_agent(user_agent: str | None) -> dict[str, str]:
    """Browser, OS and device names (ua-parser, fed at most UA_PARSE_LIMIT characters), cut to their
    column sizes."""
    return _describe_user_agent(user_agent[:UA_PARSE_LIMIT] if user_agent else user_agent)


# ua-parser's family names that read as a different browser in a list of browsers.
BROWSER_NAMES = {"HeadlessChrome": "Chrome (headless)", "HeadlessFirefox": "Firefox (headless)"}


@lru_cache(maxsize=2048)
def _describe_user_agent(user_agent: str | None) -> dict[str, str]:
    if not user_agent:
        return {"browser": "", "browser_version": "", "os": "", "os_version": "", "device": ""}
    result = parse_user_agent(user_agent)
    agent, system, device = result.user_agent, result.os, result.device

    def version(*parts: str | None) -> str:
        return ".".join(p for p in parts if p)[:32]

    return {
        "browser": BROWSER_NAMES.get(agent.family, agent.family)[:64] if agent else "",
        "browser_version": version(agent.major, agent.minor) if agent else "",
        "os": (system.family if system else "")[:64],
        "os_version": version(system.major, system.minor) if system else "",
        "device": (device.family if device else "")[:64],
    }


def participant_quality(details: list[dict[str, Any]], degraded_min_seconds: float) -> dict[str, Any]:
    """The Participant's quality columns from its detail rows' summaries (last item names the browser)."""
    if not details:
        return {
            "quality_degraded": None,
            "degraded_seconds": None,
            "max_packet_loss": None,
            "avg_packet_loss": None,
            "browser": "",
            "os": "",
            "device": "",
        }
    degraded = sum(d.get("degraded_seconds") or 0.0 for d in details)
    maxima = [d.get(k) for d in details for k in ("max_packet_loss_send", "max_packet_loss_recv")]
    weighted = 0.0
    weight = 0
    for d in details:
        for key in ("avg_packet_loss_send", "avg_packet_loss_recv"):
            if d.get(key) is not None:
                weighted += d[key] * max(1, d.get("sample_count") or 0)
                weight += max(1, d.get("sample_count") or 0)
    last = details[-1]
    any_samples = any((d.get("sample_count") or 0) > 0 for d in details)
    return {
        "quality_degraded": (degraded >= degraded_min_seconds) if any_samples else None,
        "degraded_seconds": degraded if any_samples else None,
        "max_packet_loss": _max(maxima),
        "avg_packet_loss": (weighted / weight) if weight else None,
        "browser": last.get("browser", ""),
        "os": last.get("os", ""),
        "device": last.get("device", ""),
    }
