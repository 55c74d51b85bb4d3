"""Stand-ins for unit tests: JWTs with chosen times, and a recording sleep."""

from __future__ import annotations

import base64
import json
from typing import Any


def jwt(**claims: Any) -> str:
    """An (unsigned) JWT carrying `claims`: the worker reads it, it never verifies it."""

    def segment(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{segment({'alg': 'RS256', 'typ': 'JWT'})}.{segment(claims)}.signature"


class Clock:
    """Wall-clock time the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Sleeps:
    """An injectable sleep that records its delays and returns at once."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.delays: list[float] = []
        self._clock = clock

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self._clock is not None:
            self._clock.now += seconds
