"""The built-in handlers: job types this package can run by itself.

TEST always; DATA_SPECIFICATION_UPDATE when the worker has DATA_PATH (it reads the
rasters there and posts the specification to the API: see data_specification.py).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from reefguide.jobs.types import (
    DataSpecificationUpdateInput,
    DataSpecificationUpdateResult,
    TestInput,
    TestResult,
)
from reefguide.worker import data_specification as spec
from reefguide.worker.client import WorkerClient
from reefguide.worker.context import Handler, JobContext
from reefguide.worker.rasters import RasterError, value_range

DATA_SPECIFICATION_UPDATE = "DATA_SPECIFICATION_UPDATE"
DATA_SPECIFICATION_ROUTE = "admin/data-specification"


async def run_test_job(ctx: JobContext[TestInput]) -> TestResult:
    """TEST: sleep `durationSeconds`, reporting progress every second ("2/5 s")."""
    duration = float(ctx.input.duration_seconds)
    for second in range(1, math.ceil(duration) + 1):
        elapsed = min(float(second), duration)
        await asyncio.sleep(elapsed - (second - 1))
        ctx.progress(elapsed / duration, f"{elapsed:g}/{duration:g} s")
    return TestResult()


BUILTIN_HANDLERS: Mapping[str, Handler] = MappingProxyType({"TEST": run_test_job})


def data_specification_handler(client: WorkerClient, data_path: Path) -> Handler:
    """DATA_SPECIFICATION_UPDATE: the range of every criterion raster of every region
    under `data_path`, posted to the API as the whole specification (which replaces
    the stored one). A raster that cannot be read, or holds no valid pixel, fails
    the job: a specification without it would delete that criterion."""

    async def run_data_specification_update(
        ctx: JobContext[DataSpecificationUpdateInput],
    ) -> DataSpecificationUpdateResult:
        regions = await asyncio.to_thread(spec.find_regions, data_path)
        metadata = await asyncio.to_thread(spec.criteria_metadata, data_path)
        total = sum(len(region.rasters) for region in regions)
        done = 0
        body: list[dict[str, Any]] = []
        for region in regions:
            criteria = []
            for name, raster in region.rasters.items():
                try:
                    found = await asyncio.to_thread(value_range, raster)
                except RasterError as exc:
                    raise RasterError(f"{raster.relative_to(data_path)}: {exc}") from None
                criteria.append(
                    spec.criterion_spec(name, found, metadata.get(name, spec.CriterionMetadata()))
                )
                done += 1
                ctx.progress(done / total, f"{done}/{total} rasters read ({region.name}/{raster.name})")
            body.append(await asyncio.to_thread(spec.region_spec, region, criteria))
        ctx.log.info("data specification built", regions=len(body), rasters=total)
        response = await client.request("POST", DATA_SPECIFICATION_ROUTE, json={"regions": body})
        updated = response.json().get("updated", {})
        ctx.log.info("data specification posted", **updated)
        return DataSpecificationUpdateResult.model_validate(updated)

    return run_data_specification_update


def builtin_handlers(client: WorkerClient, *, data_path: Path | None) -> Mapping[str, Handler]:
    """The built-in handlers this worker can run: TEST, and DATA_SPECIFICATION_UPDATE
    with a data path."""
    handlers = dict(BUILTIN_HANDLERS)
    if data_path is not None:
        handlers[DATA_SPECIFICATION_UPDATE] = data_specification_handler(client, data_path)
    return MappingProxyType(handlers)


def builtin_job_types(*, data_path: Path | None) -> list[str]:
    """The job types `builtin_handlers` covers with (or without) a data path."""
    return [*BUILTIN_HANDLERS, *([DATA_SPECIFICATION_UPDATE] if data_path is not None else [])]
