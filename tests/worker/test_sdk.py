"""The Worker against an in-memory API: handlers, heartbeats, cancels, lost leases,
concurrency, idleness and shutdown. Leases last 0.3 s, so heartbeats come every 0.1 s."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import structlog

from reefguide.jobs.types import JobType, TestInput, TestResult, get_job_type
from reefguide.worker import BUILTIN_HANDLERS, JobContext, RetryPolicy, Worker
from reefguide.worker.handlers import run_test_job
from tests.worker.fake_api import FakeApi

BOUND = 5.0  # no test here should come near it


def make_worker(api: FakeApi, **options: Any) -> Worker:
    settings: dict[str, Any] = {"poll_interval": 0.01, "idle_timeout": 0.3, "claim_wait_seconds": 0}
    settings.update(options)
    return Worker(api.client(), **settings)


async def run(worker: Worker) -> None:
    async with worker.client:
        await asyncio.wait_for(worker.run(), BOUND)


async def wait_until(event: asyncio.Event) -> None:
    await asyncio.wait_for(event.wait(), BOUND)


async def test_the_handlers_result_is_reported_as_succeeded() -> None:
    api = FakeApi()
    job = api.add(durationSeconds=0)
    worker = make_worker(api)

    @worker.handler("TEST")
    async def handle(ctx: JobContext[TestInput]) -> TestResult:
        return TestResult.model_validate({"sites": 3})

    await run(worker)
    assert job.reports == [{"leaseToken": "lease-1", "status": "SUCCEEDED", "resultPayload": {"sites": 3}}]


async def test_the_handler_gets_the_input_parsed_with_its_types_model() -> None:
    api = FakeApi()
    api.add(durationSeconds=2.5)
    seen: list[object] = []
    worker = make_worker(api)

    @worker.handler("TEST")
    async def handle(ctx: JobContext[TestInput]) -> dict[str, Any]:
        seen.extend([ctx.input, ctx.job_id, ctx.attempt, ctx.job_type.name])
        return {}

    await run(worker)
    assert seen == [TestInput.model_validate({"id": 1, "durationSeconds": 2.5}), 1, 1, "TEST"]


async def test_a_handler_exception_reports_failed_with_its_type_and_message() -> None:
    api = FakeApi()
    job = api.add()
    worker = make_worker(api)

    @worker.handler("TEST")
    async def handle(ctx: JobContext[TestInput]) -> None:
        raise RuntimeError("the raster is missing")

    await run(worker)
    assert job.reports == [
        {"leaseToken": "lease-1", "status": "FAILED", "error": "RuntimeError: the raster is missing"}
    ]


async def test_an_input_its_type_refuses_reports_failed_without_running_the_handler() -> None:
    api = FakeApi()
    job = api.add(durationSeconds="five")
    calls: list[int] = []
    worker = make_worker(api)

    @worker.handler("TEST")
    async def handle(ctx: JobContext[TestInput]) -> None:
        calls.append(ctx.job_id)

    await run(worker)
    assert calls == []
    assert job.reports[0]["status"] == "FAILED"
    assert job.reports[0]["error"].startswith("Invalid input payload")


async def test_a_result_its_type_refuses_reports_failed() -> None:
    api = FakeApi()
    job = api.add("SUITABILITY_ASSESSMENT", region="Cairns", reef_type="slopes", x_dist=450, y_dist=20)
    del job.input_payload["id"]
    worker = make_worker(api)

    @worker.handler("SUITABILITY_ASSESSMENT")
    async def handle(ctx: JobContext[Any]) -> dict[str, Any]:
        return {"geojson": "missing the _path"}

    await run(worker)
    assert job.reports[0]["status"] == "FAILED"
    assert "geojson_path" in job.reports[0]["error"]


async def test_files_in_the_output_dir_are_uploaded_with_their_relative_paths() -> None:
    api = FakeApi()
    job = api.add()
    dirs: list[Path] = []
    worker = make_worker(api)

    @worker.handler("TEST")
    async def handle(ctx: JobContext[TestInput]) -> None:
        dirs.append(ctx.output_dir)
        (ctx.output_dir / "maps" / "2026").mkdir(parents=True)
        (ctx.output_dir / "maps" / "2026" / "a.tif").write_bytes(b"tif")
        (ctx.output_dir / "summary.json").write_text('{"sites": 3}')

    await run(worker)
    assert job.files == {"maps/2026/a.tif": b"tif", "summary.json": b'{"sites": 3}'}
    assert job.reports[0]["status"] == "SUCCEEDED"
    assert not dirs[0].exists()


async def test_a_lease_lost_before_the_upload_drops_the_job_without_a_report() -> None:
    api = FakeApi()
    job = api.add()
    worker = make_worker(api)

    @worker.handler("TEST")
    async def handle(ctx: JobContext[TestInput]) -> None:
        (ctx.output_dir / "a.txt").write_text("a")
        job.lease_lost = True

    await run(worker)
    assert job.reports == []
    assert job.files == {}


async def test_a_file_the_store_refuses_fails_the_job_as_retryable() -> None:
    api = FakeApi()
    api.put_status = 403
    job = api.add()
    worker = make_worker(api)

    @worker.handler("TEST")
    async def handle(ctx: JobContext[TestInput]) -> None:
        (ctx.output_dir / "a.txt").write_text("a")

    await run(worker)
    assert job.reports == [
        {
            "leaseToken": "lease-1",
            "status": "FAILED",
            "error": "Uploading result files failed: ApiError: 403: The link has expired",
            "retryable": True,
        }
    ]


async def test_a_long_error_is_cut_to_what_the_api_keeps() -> None:
    api = FakeApi()
    job = api.add()
    worker = make_worker(api)

    @worker.handler("TEST")
    async def handle(ctx: JobContext[TestInput]) -> None:
        raise RuntimeError("x" * 50_000)

    await run(worker)
    assert job.reports[0]["error"].startswith("RuntimeError: xxx")
    assert len(job.reports[0]["error"]) <= 20_000


async def test_heartbeats_carry_the_latest_progress() -> None:
    api = FakeApi()
    job = api.add()
    halfway = asyncio.Event()
    worker = make_worker(api)

    @worker.handler("TEST")
    async def handle(ctx: JobContext[TestInput]) -> None:
        ctx.progress(0.4, "tiles 4/10")
        while not any(beat.get("progress") == 0.4 for beat in job.heartbeats):
            await asyncio.sleep(0.01)
        ctx.progress(2.0, "done")  # clamped to 1
        while not any(beat.get("progress") == 1.0 for beat in job.heartbeats):
            await asyncio.sleep(0.01)
        halfway.set()

    await run(worker)
    assert halfway.is_set()
    assert {"leaseToken": "lease-1", "progress": 0.4, "message": "tiles 4/10"} in job.heartbeats
    assert job.reports[0]["status"] == "SUCCEEDED"


async def test_a_cancel_seen_on_a_heartbeat_stops_the_handler_and_reports_cancelled() -> None:
    api = FakeApi()
    job = api.add()
    started, stopped = asyncio.Event(), asyncio.Event()
    worker = make_worker(api)

    @worker.handler("TEST")
    async def handle(ctx: JobContext[TestInput]) -> None:
        started.set()
        try:
            await asyncio.sleep(BOUND * 2)
        except asyncio.CancelledError:
            stopped.set()
            raise

    task = asyncio.create_task(run(worker))
    await wait_until(started)
    job.cancel_requested = True
    await task
    assert stopped.is_set()
    assert job.reports == [{"leaseToken": "lease-1", "status": "CANCELLED"}]


async def test_a_lost_lease_stops_the_handler_and_reports_nothing() -> None:
    api = FakeApi()
    job = api.add()
    started, stopped = asyncio.Event(), asyncio.Event()
    worker = make_worker(api)

    @worker.handler("TEST")
    async def handle(ctx: JobContext[TestInput]) -> None:
        started.set()
        try:
            await asyncio.sleep(BOUND * 2)
        except asyncio.CancelledError:
            stopped.set()
            raise

    task = asyncio.create_task(run(worker))
    await wait_until(started)
    job.lease_lost = True
    await task
    assert stopped.is_set()
    assert job.reports == []


async def test_at_most_max_concurrent_jobs_run_at_once() -> None:
    api = FakeApi()
    jobs = [api.add() for _ in range(5)]
    running, most = 0, 0
    worker = make_worker(api, max_concurrent_jobs=2)

    @worker.handler("TEST")
    async def handle(ctx: JobContext[TestInput]) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05)
        running -= 1

    await run(worker)
    assert most == 2
    assert all(job.reports[0]["status"] == "SUCCEEDED" for job in jobs)
    assert all(claim["max"] <= 2 for claim in api.claims)


async def test_failed_claims_are_retried_with_backoff_until_the_api_answers() -> None:
    api = FakeApi()
    api.failing_claims = 3
    job = api.add()
    worker = make_worker(api, handlers=BUILTIN_HANDLERS, claim_retry=RetryPolicy(base_seconds=0.01))
    await run(worker)
    assert job.reports[0]["status"] == "SUCCEEDED"
    assert len(api.claims) >= 4


async def test_an_idle_worker_returns_after_the_idle_timeout() -> None:
    api = FakeApi()
    worker = make_worker(api, idle_timeout=0.3, poll_interval=0.05)
    worker.register("TEST", run_test_job)
    started = time.monotonic()
    await run(worker)
    assert 0.3 <= time.monotonic() - started < 2
    assert api.claims  # it did look for work


async def test_a_claim_made_while_the_last_job_runs_does_not_hold_the_worker_past_its_idle_timeout() -> None:
    """A claim for a free slot waits on the server; were it to wait its whole
    claim_wait_seconds, the worker would outstay its idle timeout by that much."""
    api = FakeApi()
    api.claims_wait = True
    api.add()
    worker = make_worker(api, idle_timeout=0.3, claim_wait_seconds=20, max_concurrent_jobs=2)

    @worker.handler("TEST")
    async def handle(ctx: JobContext[TestInput]) -> None:
        await asyncio.sleep(0.2)

    started = time.monotonic()
    await run(worker)
    assert time.monotonic() - started < 2


async def test_stop_lets_a_running_job_finish_within_the_grace_period() -> None:
    api = FakeApi()
    job = api.add()
    started = asyncio.Event()
    worker = make_worker(api, idle_timeout=None, grace_seconds=BOUND)

    @worker.handler("TEST")
    async def handle(ctx: JobContext[TestInput]) -> None:
        started.set()
        await asyncio.sleep(0.3)

    task = asyncio.create_task(run(worker))
    await wait_until(started)
    claims = len(api.claims)
    worker.stop()
    await task
    assert job.reports[0]["status"] == "SUCCEEDED"
    assert len(api.claims) == claims  # no claim after the stop
    assert api.releases == []


async def test_stop_past_the_grace_period_cancels_the_handler_and_releases_the_lease() -> None:
    api = FakeApi()
    job = api.add()
    started = asyncio.Event()
    worker = make_worker(api, idle_timeout=None, grace_seconds=0.2)

    @worker.handler("TEST")
    async def handle(ctx: JobContext[TestInput]) -> None:
        started.set()
        await asyncio.sleep(BOUND * 2)

    task = asyncio.create_task(run(worker))
    await wait_until(started)
    worker.stop()
    stopped_at = time.monotonic()
    await task
    assert time.monotonic() - stopped_at < 1.5
    assert api.releases == [job.id]
    assert job.reports == []
    assert job.status == "PENDING"


async def test_a_second_stop_ends_the_grace_period_at_once() -> None:
    api = FakeApi()
    job = api.add()
    started = asyncio.Event()
    worker = make_worker(api, idle_timeout=None, grace_seconds=BOUND * 2)

    @worker.handler("TEST")
    async def handle(ctx: JobContext[TestInput]) -> None:
        started.set()
        await asyncio.sleep(BOUND * 2)

    task = asyncio.create_task(run(worker))
    await wait_until(started)
    worker.stop()
    worker.stop()
    await task
    assert api.releases == [job.id]


async def test_the_types_claimed_default_to_those_with_a_handler() -> None:
    api = FakeApi()
    worker = make_worker(api, handlers=BUILTIN_HANDLERS)
    assert worker.job_types == ["TEST"]
    await run(worker)
    assert api.claims[0]["jobTypes"] == ["TEST"]


def test_a_type_without_a_handler_or_unknown_type_is_refused() -> None:
    api = FakeApi()
    with pytest.raises(ValueError, match="No handler for job type ADRIA_MODEL_RUN"):
        make_worker(api, handlers=BUILTIN_HANDLERS, job_types=["ADRIA_MODEL_RUN"]).check()
    with pytest.raises(ValueError, match="Unknown job type NOPE"):
        make_worker(api).register("NOPE", run_test_job)
    with pytest.raises(ValueError, match="No job types"):
        make_worker(api).check()


class RecordingContext(JobContext[TestInput]):
    def __init__(self, duration: float) -> None:
        job_type = get_job_type("TEST")
        assert isinstance(job_type, JobType)
        super().__init__(
            job_type=job_type,
            job_id=1,
            assignment_id=1,
            attempt=1,
            input=TestInput.model_validate({"id": 1, "durationSeconds": duration}),
            output_dir=Path("."),
            log=structlog.get_logger(),
        )
        self.calls: list[tuple[float, str | None]] = []

    def progress(self, fraction: float, message: str | None = None) -> None:
        super().progress(fraction, message)
        self.calls.append((round(fraction, 3), message))


async def test_the_builtin_test_handler_sleeps_reporting_progress_every_second() -> None:
    ctx = RecordingContext(1.25)
    started = time.monotonic()
    result = await run_test_job(ctx)
    assert 1.2 <= time.monotonic() - started < 2.5
    assert ctx.calls == [(0.8, "1/1.25 s"), (1.0, "1.25/1.25 s")]
    assert result == TestResult()


async def test_the_builtin_test_handler_with_no_duration_returns_at_once() -> None:
    ctx = RecordingContext(0)
    assert await run_test_job(ctx) == TestResult()
    assert ctx.calls == []


async def test_results_that_finish_together_are_reported_together_each_with_its_outcome() -> None:
    """The first success goes alone; those that finish while it is on its way go in
    one request, and each still learns its own outcome (here one lease was lost)."""
    api = FakeApi()
    jobs = [api.add() for _ in range(6)]
    release = asyncio.Event()
    worker = make_worker(api, max_concurrent_jobs=6)

    @worker.handler("TEST")
    async def handle(ctx: JobContext[TestInput]) -> TestResult:
        await release.wait()
        if ctx.job_id == jobs[-1].id:
            jobs[-1].lease_lost = True  # someone else's now: its report is refused
        return TestResult.model_validate({"sites": ctx.job_id})

    task = asyncio.create_task(run(worker))
    while api.running < 6:
        await asyncio.sleep(0.01)  # between checks of the condition, not instead of it
    with structlog.testing.capture_logs() as logs:
        release.set()
        await task
    for job in jobs[:-1]:
        assert [report["resultPayload"] for report in job.reports] == [{"sites": job.id}]
        assert job.status == "SUCCEEDED"
    assert jobs[-1].reports == []
    assert [
        line["job_id"] for line in logs if line["event"] == "lease lost before the result was reported"
    ] == [jobs[-1].id]
    assert api.batches, "some results went together"
    singles = 6 - sum(api.batches)
    assert len(api.batches) + singles < 6, "fewer requests than results"
