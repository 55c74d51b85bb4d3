"""The SDK's Worker, in this process, with handlers of the test's own, against a real
`reefguide serve`: a failing handler, a cancel while running, result files."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from reefguide.jobs.types import TestInput
from reefguide.worker import JobContext, Login, Worker, WorkerClient
from tests.e2e.processes import Server
from tests.worker.conftest import WORKER, Api, is_running

pytestmark = pytest.mark.slow

STOP_SECONDS = 10.0


class Running:
    """A Worker running in this event loop; the test blocks only in threads."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.worker.run())

    async def stop(self) -> None:
        if self.task is None:
            return
        self.worker.stop()
        await asyncio.wait_for(self.task, STOP_SECONDS)


@pytest.fixture
async def running(server: Server) -> AsyncIterator[Running]:
    client = WorkerClient(f"{server.base_url}/api", Login(*WORKER))
    worker = Worker(client, idle_timeout=None, poll_interval=0.05, claim_wait_seconds=0.5, grace_seconds=5)
    handle = Running(worker)
    try:
        yield handle
    finally:
        try:
            await handle.stop()
        finally:
            await client.aclose()


async def test_a_handler_that_raises_fails_the_job_with_the_error_text(api: Api, running: Running) -> None:
    @running.worker.handler("TEST")
    async def handle(ctx: JobContext[TestInput]) -> None:
        raise ValueError(f"no reef data for job {ctx.job_id}")

    job_id = api.submit()
    running.start()
    job = await asyncio.to_thread(api.wait_for_status, job_id, "FAILED")
    assert job["assignments"][-1]["error"] == f"ValueError: no reef data for job {job_id}"


async def test_a_job_cancelled_while_running_stops_and_ends_cancelled(api: Api, running: Running) -> None:
    stopped = asyncio.Event()

    @running.worker.handler("TEST")
    async def handle(ctx: JobContext[TestInput]) -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            stopped.set()
            raise

    job_id = api.submit()
    running.start()
    await asyncio.to_thread(api.wait_for, job_id, is_running)
    await asyncio.to_thread(api.cancel, job_id)
    job = await asyncio.to_thread(api.wait_for_status, job_id, "CANCELLED", 5.0)
    assert stopped.is_set()
    assert job["assignments"][-1]["outcome"] == "CANCELLED"


async def test_files_a_handler_writes_are_downloadable(api: Api, running: Running) -> None:
    @running.worker.handler("TEST")
    async def handle(ctx: JobContext[TestInput]) -> dict[str, Any]:
        (ctx.output_dir / "maps").mkdir()
        (ctx.output_dir / "maps" / "suitable.geojson").write_text('{"type": "FeatureCollection"}')
        (ctx.output_dir / "summary.json").write_bytes(b'{"sites": 3}')
        return {"sites": 3}

    job_id = api.submit()
    running.start()
    job = await asyncio.to_thread(api.wait_for_status, job_id, "SUCCEEDED")
    assert job["result"]["result_payload"] == {"sites": 3}
    files = await asyncio.to_thread(api.download, job_id)
    assert sorted(files) == ["maps/suitable.geojson", "summary.json"]
    async with httpx.AsyncClient(timeout=10) as http:
        geojson = await http.get(files["maps/suitable.geojson"])
        summary = await http.get(files["summary.json"])
    assert geojson.text == '{"type": "FeatureCollection"}'
    assert summary.content == b'{"sites": 3}'
