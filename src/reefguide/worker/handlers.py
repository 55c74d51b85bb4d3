"""The built-in handlers: job types this package can run by itself."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from types import MappingProxyType

from reefguide.jobs.types import TestInput, TestResult
from reefguide.worker.context import Handler, JobContext


async def run_test_job(ctx: JobContext[TestInput]) -> TestResult:
    """TEST: sleep `durationSeconds`, reporting progress every second ("2/5 s")."""
    duration = float(ctx.input.duration_seconds)
    for second in range(1, math.ceil(duration) + 1):
        elapsed = min(float(second), duration)
        await asyncio.sleep(elapsed - (second - 1))
        ctx.progress(elapsed / duration, f"{elapsed:g}/{duration:g} s")
    return TestResult()


BUILTIN_HANDLERS: Mapping[str, Handler] = MappingProxyType({"TEST": run_test_job})
