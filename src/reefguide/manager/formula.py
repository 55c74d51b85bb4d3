"""How many workers a pool should have, and how many to launch now: the original's rule.

target = clamp(round(sensitivity·ln(pending/factor + 1) + min), min, max), at least one
worker while anything is pending (but never above max). Workers are only ever added:
they leave by themselves when idle, so a pool with nothing pending launches nothing,
and `min` is not kept up while idle (a kept-up idle worker would only exit and be
relaunched). Between launches for a pool there is a cooldown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from reefguide.cluster.base import Pool


def round_half_up(value: float) -> int:
    """JavaScript's Math.round, which the original used: halves go up (Python's round
    goes to the even neighbour, so round(2.5) is 2 where Math.round(2.5) is 3)."""
    return math.floor(value + 0.5)


def target_workers(pending: int, pool: Pool) -> int:
    """The workers `pool` should have for `pending` jobs."""
    if pending <= 0:
        return min(pool.min_capacity, pool.max_capacity)
    raw = pool.sensitivity * math.log(pending / pool.factor + 1) + pool.min_capacity
    target = min(max(round_half_up(raw), pool.min_capacity), pool.max_capacity)
    # Something is waiting: one worker at least, unless the pool may have none.
    return max(target, min(1, pool.max_capacity))


@dataclass(frozen=True)
class Decision:
    """One poll's verdict for one pool, with what it was made from."""

    pool: str
    pending: int
    tracked: int
    target: int
    launches: int
    # Seconds left before this pool may launch again; 0 when it may now.
    cooldown_remaining: float


def decide(pool: Pool, *, pending: int, tracked: int, since_last_launch: float | None) -> Decision:
    """What to do for `pool`: `tracked` of its workers are alive, the last launch was
    `since_last_launch` seconds ago (None: never)."""
    target = target_workers(pending, pool)
    remaining = 0.0
    if since_last_launch is not None and since_last_launch < pool.cooldown_seconds:
        remaining = pool.cooldown_seconds - since_last_launch
    launches = 0 if pending <= 0 or remaining > 0 else max(0, target - tracked)
    return Decision(
        pool=pool.name,
        pending=pending,
        tracked=tracked,
        target=target,
        launches=launches,
        cooldown_remaining=remaining,
    )
