"""Traces: one trace from the request that submits a job, through its claim, to the
worker's run and the result it reports. Spans are caught by the SDK's in-memory
exporter; the app and the worker are given a tracer provider, as
OTEL_EXPORTER_OTLP_ENDPOINT would give them one."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import structlog
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from reefguide.app import create_app
from reefguide.auth.keys import KeyPair
from reefguide.jobs.types import TestInput
from reefguide.observability.logging import line_handler
from reefguide.settings import Settings
from reefguide.users.models import Role
from reefguide.worker import JobContext, Login, Worker, WorkerClient
from reefguide.worker.logs import configure_logging as configure_worker_logging
from tests.factories import PASSWORD, bearer, make_user, token_for
from tests.http.conftest import LogCapture

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
CALLER_SPAN_ID = 0x00F067AA0BA902B7
TRACEPARENT = f"00-{TRACE_ID:032x}-{CALLER_SPAN_ID:016x}-01"
BOUND = 10.0


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
async def traced_app(
    settings: Settings, key_pair: KeyPair, provider: TracerProvider
) -> AsyncIterator[FastAPI]:
    application = create_app(settings, keys=key_pair, tracer_provider=provider)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def traced_client(traced_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=traced_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def submit(client: httpx.AsyncClient, headers: dict[str, str], job_id: int = 1) -> int:
    response = await client.post(
        "/api/jobs", json={"type": "TEST", "inputPayload": {"id": job_id}}, headers=headers
    )
    assert response.status_code == 200, response.text
    submitted: int = response.json()["jobId"]
    return submitted


async def run_one_job(app: FastAPI, provider: TracerProvider | None) -> None:
    """A worker, through the SDK and over HTTP, runs the pending TEST job: it writes a
    result file (uploaded) and reports success; then, idle, it stops."""
    account = await make_user(app, roles=[Role.WORKER])
    transport = httpx.ASGITransport(app=app)
    client = WorkerClient("http://test/api", Login(account.email, PASSWORD), transport=transport)
    worker = Worker(
        client,
        poll_interval=0.01,
        idle_timeout=0.3,
        claim_wait_seconds=0,
        tracer_provider=provider,
    )

    @worker.handler("TEST")
    async def handle(ctx: JobContext[TestInput]) -> dict[str, Any]:
        (ctx.output_dir / "summary.json").write_text("{}")
        return {}

    async with client:
        await asyncio.wait_for(worker.run(), BOUND)


def by_name(spans: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    found = [span for span in spans if span.name == name]
    assert len(found) == 1, (name, [span.name for span in spans])
    return found[0]


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def ancestors(span: ReadableSpan, spans: tuple[ReadableSpan, ...]) -> list[int]:
    by_id = {one.context.span_id: one for one in spans}
    chain = []
    parent = parent_of(span)
    while parent is not None:
        chain.append(parent)
        parent = parent_of(by_id[parent]) if parent in by_id else None
    return chain


async def test_one_trace_runs_from_the_submission_to_the_reported_result(
    traced_app: FastAPI,
    traced_client: httpx.AsyncClient,
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
) -> None:
    analyst = await make_user(traced_app, roles=[Role.ANALYST])
    headers = {**bearer(token_for(traced_app, analyst)), "traceparent": TRACEPARENT}
    job_id = await submit(traced_client, headers)

    await run_one_job(traced_app, provider)

    job = (
        await traced_client.get(f"/api/jobs/{job_id}", headers=bearer(token_for(traced_app, analyst)))
    ).json()
    assert job["job"]["status"] == "SUCCEEDED"
    spans = exporter.get_finished_spans()
    submitted = by_name(spans, "POST /api/jobs")
    claimed = by_name(spans, "claim TEST")
    run = by_name(spans, "run TEST")
    handler = by_name(spans, "handler")
    upload = by_name(spans, "upload result files")
    reported = by_name(spans, "report result")
    result = by_name(spans, "POST /api/jobs/assignments/{assignment_id}/result")
    chain = (submitted, claimed, run, handler, upload, reported, result)

    # One trace, the caller's: the request continued its traceparent.
    assert {span.context.trace_id for span in chain} == {TRACE_ID}
    assert submitted.kind == SpanKind.SERVER
    assert parent_of(submitted) == CALLER_SPAN_ID
    # submit → claim → run → (handler, upload, report) → the result request.
    assert submitted.context.span_id in ancestors(claimed, spans)
    assert parent_of(run) == claimed.context.span_id
    assert run.kind == SpanKind.CONSUMER
    assert {parent_of(handler), parent_of(upload), parent_of(reported)} == {run.context.span_id}
    assert parent_of(result) == reported.context.span_id
    assert run.attributes is not None
    assert run.attributes["reefguide.job.id"] == job_id
    assert run.attributes["reefguide.job.outcome"] == "SUCCEEDED"
    # The claim request itself belongs to the worker's polling, linked from the claim span.
    (link,) = claimed.links
    assert link.context.trace_id != TRACE_ID
    assert any(
        span.name == "POST /api/jobs/claim" and span.context.trace_id == link.context.trace_id
        for span in spans
    )


async def test_without_tracing_the_worker_still_continues_the_callers_trace(
    app: FastAPI, client: httpx.AsyncClient, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """The API does not trace (no provider), but keeps the caller's traceparent with the
    job and hands it to the worker, whose run joins the caller's trace."""
    analyst = await make_user(app, roles=[Role.ANALYST])
    await submit(client, {**bearer(token_for(app, analyst)), "traceparent": TRACEPARENT})

    await run_one_job(app, provider)

    run = by_name(exporter.get_finished_spans(), "run TEST")
    assert run.context.trace_id == TRACE_ID
    assert parent_of(run) == CALLER_SPAN_ID


async def test_the_claim_answer_carries_the_jobs_trace_context(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    analyst_headers = bearer(token_for(app, await make_user(app, roles=[Role.ANALYST])))
    worker_headers = bearer(token_for(app, await make_user(app, roles=[Role.WORKER])))
    await submit(client, {**analyst_headers, "traceparent": TRACEPARENT}, job_id=1)
    await submit(client, {**analyst_headers, "traceparent": "00-not-a-trace-01"}, job_id=2)
    await submit(client, analyst_headers, job_id=3)

    response = await client.post(
        "/api/jobs/claim", json={"jobTypes": ["TEST"], "max": 3}, headers=worker_headers
    )

    assert response.status_code == 200, response.text
    contexts = {entry["job"]["id"]: entry["traceContext"] for entry in response.json()["assignments"]}
    assert contexts == {1: {"traceparent": TRACEPARENT}, 2: None, 3: None}


async def test_untraced_paths_make_no_spans(
    traced_client: httpx.AsyncClient, exporter: InMemorySpanExporter
) -> None:
    for path in ("/metrics", "/api/health", "/api/health/ready"):
        assert (await traced_client.get(path)).status_code == 200
    assert exporter.get_finished_spans() == ()


@pytest.fixture
def traced_logs(traced_app: FastAPI) -> Iterator[LogCapture]:
    handler = line_handler()
    assert handler is not None
    capture = LogCapture()
    handler.listeners.append(capture)
    try:
        yield capture
    finally:
        handler.listeners.remove(capture)


async def test_with_tracing_on_each_log_line_carries_the_trace_id(
    traced_client: httpx.AsyncClient, traced_logs: LogCapture
) -> None:
    response = await traced_client.get("/api/no-such-thing", headers={"traceparent": TRACEPARENT})

    assert response.status_code == 404
    (access,) = [json.loads(line) for line in traced_logs.lines if '"reefguide.access"' in line]
    assert access["trace_id"] == f"{TRACE_ID:032x}"
    assert access["request_id"] == response.headers["x-request-id"]


async def test_with_tracing_off_no_trace_id_is_logged(app: FastAPI, client: httpx.AsyncClient) -> None:
    handler = line_handler()
    assert handler is not None
    capture = LogCapture()
    handler.listeners.append(capture)
    try:
        await client.get("/api/no-such-thing", headers={"traceparent": TRACEPARENT})
    finally:
        handler.listeners.remove(capture)
    (access,) = [json.loads(line) for line in capture.lines if '"reefguide.access"' in line]
    assert "trace_id" not in access


@pytest.fixture
def restore_structlog() -> Iterator[None]:
    config = structlog.get_config()
    try:
        yield
    finally:
        structlog.configure(**config)


@pytest.mark.usefixtures("restore_structlog")
def test_the_workers_log_lines_carry_the_trace_id_when_tracing_is_on(
    provider: TracerProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_worker_logging("INFO", "json", tracing=True)
    log = structlog.get_logger("test")
    with provider.get_tracer("test").start_as_current_span("job") as span:
        log.info("inside")
    log.info("outside")

    inside, outside = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert inside["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    assert "trace_id" not in outside


@pytest.mark.usefixtures("restore_structlog")
def test_the_workers_log_lines_carry_no_trace_id_when_tracing_is_off(
    provider: TracerProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_worker_logging("INFO", "json")
    with provider.get_tracer("test").start_as_current_span("job"):
        structlog.get_logger("test").info("inside")
    (line,) = capsys.readouterr().err.splitlines()
    assert "trace_id" not in json.loads(line)


def test_no_global_tracer_provider_is_set_by_an_app(traced_app: FastAPI) -> None:
    """Apps take their provider as an argument: many apps in one process do not fight
    over the global one."""
    assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"
