"""Rate limits for the credential routes (register, login, password changes and resets).

Counted per client address in a moving window, in process memory. Off when
TEST_MODE=true, as in the original.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable

from fastapi import Request
from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from reefguide.errors import TooManyRequests


class RateLimits:
    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def hit(self, rule: str, scope: str, client: str) -> None:
        if not self.enabled:
            return
        item = parse(rule)
        if await self._limiter.hit(item, scope, client):
            return
        stats = await self._limiter.get_window_stats(item, scope, client)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise TooManyRequests(
            "Too many attempts, please try again later",
            headers={"Retry-After": str(retry_after)},
        )


def rate_limited(scope: str, rule: str) -> Callable[[Request], Awaitable[None]]:
    """A route dependency: at most `rule` (e.g. "5/15 minutes") calls per client."""

    async def check_rate(request: Request) -> None:
        limits: RateLimits = request.app.state.rate_limits
        client = request.client.host if request.client else "unknown"
        await limits.hit(rule, scope, client)

    check_rate.__rate_limit__ = rule  # type: ignore[attr-defined]  # read by openapi.py
    return check_rate
