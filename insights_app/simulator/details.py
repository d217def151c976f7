"""Per-connection network-quality detail items, generated lazily and deterministically from ids."""

from __future__ import annotations

from random import Random

from .model import Conn
from .timefmt import format_ms
from .vocab import BOT_ROLES, BOT_USER_AGENT, EVENT_TYPES, SEND_NOTHING_ROLES, USER_AGENTS

SAMPLE_RATE_MS = 2000
DEGRADED_LOSS_PERCENT = 3.0


def detail_items(seed: int, conn: Conn, now: int, max_samples: int) -> list[dict]:
    """The ``/insights/participant`` array for one connection as seen at ``now``.

    Everything is drawn from the connection's planned full length, then cut at ``now``, so
    a live connection's arrays only ever grow (earlier values never change).
    """
    rng = Random(f"whereby-sim:{seed}:detail:{conn.participant_id}")
    planned_steps = min(max_samples, max(1, -(-(conn.left - conn.joined) // SAMPLE_RATE_MS)))
    visible_steps = min(planned_steps, max(1, -(-(min(now, conn.left) - conn.joined) // SAMPLE_RATE_MS)))
    is_bot = conn.role in BOT_ROLES
    bad_network = rng.random() < 0.15
    series = _samples(rng, planned_steps, bad_network, conn.role)
    split = planned_steps
    if planned_steps >= 20 and not is_bot and rng.random() < 0.1:
        split = rng.randint(planned_steps // 4, 3 * planned_steps // 4)  # the browser changed
    user_agents = [BOT_USER_AGENT if is_bot else conn.user_agent or rng.choice(USER_AGENTS)]
    user_agents.append(rng.choice([ua for ua in USER_AGENTS if ua != user_agents[0]]))
    events = _events(rng, conn, planned_steps)
    items: list[dict] = []
    for index, (lo, hi) in enumerate(((0, split), (split, planned_steps))):
        if lo >= hi or lo >= visible_steps:
            continue
        unit_fraction = rng.random() < 0.3
        extra = rng.random() < 0.05
        start = conn.joined + lo * SAMPLE_RATE_MS
        end_visible = conn.joined + min(hi, visible_steps) * SAMPLE_RATE_MS
        item = {
            "displayName": conn.display_name,
            "userRole": conn.role,
            "userAgent": user_agents[index],
            "timeStamp": format_ms(start),
            "sampleRateMs": SAMPLE_RATE_MS,
            "samples": _in_unit(series, lo, hi, unit_fraction, rng, min(hi, visible_steps)),
            "events": [
                {"type": kind, "timeStamp": format_ms(at)} for at, kind in events if start <= at < end_visible
            ],
        }
        if extra:
            item["region"] = "eu"
        items.append(item)
    return items


def _samples(rng: Random, steps: int, bad_network: bool, role: str) -> dict[str, list]:
    """Loss in percent and bitrates in bit/s, with bad-network episodes and null gaps."""
    send_base = 0 if role in SEND_NOTHING_ROLES else rng.randint(300_000, 2_500_000)
    recv_base = rng.randint(400_000, 4_000_000)
    # A good network has a short bad spell about once in three hours; a bad one every minute or so.
    enter_bad = 0.03 if bad_network else 0.0002
    loss_send: list[float | None] = []
    loss_recv: list[float | None] = []
    rate_send: list[int | None] = []
    rate_recv: list[int | None] = []
    bad = False
    gap = 0
    for _ in range(steps):
        bad = rng.random() < (0.95 if bad else enter_bad)
        if gap == 0 and rng.random() < 0.004:
            gap = rng.randint(1, 6)
        if gap:
            gap -= 1
            for values in (loss_send, loss_recv, rate_send, rate_recv):
                values.append(None)
            continue
        if bad:
            loss_send.append(round(rng.uniform(3.0, 25.0), 2))
            loss_recv.append(round(rng.uniform(2.0, 20.0), 2))
            factor = rng.uniform(0.2, 0.5)
        else:
            loss_send.append(round(rng.uniform(0.0, 0.9), 2) if rng.random() < 0.25 else 0.0)
            loss_recv.append(round(rng.uniform(0.0, 0.9), 2) if rng.random() < 0.25 else 0.0)
            factor = rng.uniform(0.85, 1.15)
        rate_send.append(int(send_base * factor))
        rate_recv.append(int(recv_base * factor) if rng.random() > 0.002 else None)
    return {
        "packetLossSend": loss_send,
        "packetLossRecv": loss_recv,
        "bitrateSend": rate_send,
        "bitrateRecv": rate_recv,
    }


def _in_unit(
    series: dict[str, list], lo: int, hi: int, fraction: bool, rng: Random, cut: int
) -> dict[str, list]:
    """Samples [lo, cut) with packet loss as a fraction (0-1) or percent (0-100), always detectable.

    The first non-null receive-loss value is at least 1.2 % (a connection's start often loses a
    little), so every visible prefix of a fraction item has a non-zero value <= 1 and every
    prefix of a percent item has a value > 1.
    """
    send = series["packetLossSend"][lo:hi]
    recv = series["packetLossRecv"][lo:hi]
    marker = next((i for i, v in enumerate(recv) if v is not None), None)
    if marker is not None and recv[marker] <= 1.0:
        recv[marker] = round(rng.uniform(1.2, 2.5), 2)
    if fraction:
        send = [None if v is None else round(v / 100, 4) for v in send]
        recv = [None if v is None else round(v / 100, 4) for v in recv]
    width = cut - lo
    return {
        "packetLossSend": send[:width],
        "packetLossRecv": recv[:width],
        "bitrateSend": series["bitrateSend"][lo:hi][:width],
        "bitrateRecv": series["bitrateRecv"][lo:hi][:width],
    }


def _events(rng: Random, conn: Conn, steps: int) -> list[tuple[int, str]]:
    """A few undocumented client events (kept raw by the app) along the connection."""
    events = [(conn.joined, "joined")]
    for _ in range(rng.randint(0, 4)):
        events.append((conn.joined + rng.randrange(steps) * SAMPLE_RATE_MS, rng.choice(EVENT_TYPES)))
    return sorted(events)
