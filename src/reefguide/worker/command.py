"""`reefguide worker`: the built-in handlers, run with the worker's environment.

Exit codes: 0 when stopped (SIGTERM, SIGINT) or idle; 1 when the API refuses the
worker (credentials, role, job types); 2 for a bad setting or option.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Mapping, Sequence

import structlog
from opentelemetry import trace

from reefguide.worker.auth import ApiKey, Credentials, Login
from reefguide.worker.client import WorkerClient
from reefguide.worker.context import Handler
from reefguide.worker.errors import ApiError
from reefguide.worker.handlers import DATA_SPECIFICATION_UPDATE, builtin_handlers
from reefguide.worker.logs import configure_logging
from reefguide.worker.sdk import Worker
from reefguide.worker.settings import WorkerSettings
from reefguide.worker.tracing import build_tracer_provider

log = structlog.get_logger(__name__)

OK, REFUSED, BAD_SETTING = 0, 1, 2
SERVICE_NAME = "reefguide-worker"  # unless OTEL_SERVICE_NAME says otherwise


class WorkerConfigError(Exception):
    """A setting or option the worker cannot start with (one line)."""


def credentials(settings: WorkerSettings) -> Credentials:
    if settings.worker_api_key is not None:
        return ApiKey(settings.worker_api_key.get_secret_value())
    if settings.worker_username is not None and settings.worker_password is not None:
        return Login(settings.worker_username, settings.worker_password.get_secret_value())
    raise WorkerConfigError(
        "The worker needs credentials: WORKER_USERNAME and WORKER_PASSWORD, or WORKER_API_KEY"
    )


def build_worker(
    settings: WorkerSettings,
    client: WorkerClient,
    *,
    handlers: Mapping[str, Handler] | None = None,
    job_types: Sequence[str] | None = None,
    max_concurrent_jobs: int | None = None,
    grace_seconds: float = 30.0,
) -> Worker:
    """A worker configured from the settings, with command-line options on top; by
    default with the built-in handlers (DATA_SPECIFICATION_UPDATE needs DATA_PATH)."""
    types = list(job_types) if job_types else settings.job_types or None
    if handlers is None:
        if types and DATA_SPECIFICATION_UPDATE in types and settings.data_path is None:
            raise WorkerConfigError(
                f"{DATA_SPECIFICATION_UPDATE} needs DATA_PATH, the folder of region rasters"
            )
        handlers = builtin_handlers(client, data_path=settings.data_path)
    try:
        worker = Worker(
            client,
            handlers=handlers,
            job_types=types,
            max_concurrent_jobs=max_concurrent_jobs or settings.max_concurrent_jobs,
            poll_interval=settings.poll_interval_ms / 1000,
            idle_timeout=settings.idle_timeout_ms / 1000 or None,
            claim_wait_seconds=settings.claim_wait_seconds,
            grace_seconds=grace_seconds,
        )
        worker.check()
    except ValueError as exc:
        raise WorkerConfigError(str(exc)) from None
    return worker


def run_worker(
    settings: WorkerSettings,
    *,
    job_types: Sequence[str] | None = None,
    max_concurrent_jobs: int | None = None,
    grace_seconds: float = 30.0,
) -> int:
    """Run until idle or stopped by a signal; returns the exit code.
    Raises WorkerConfigError before anything starts when the settings will not do."""
    login = credentials(settings)
    provider = build_tracer_provider(settings.otel_exporter_otlp_endpoint, service_name=SERVICE_NAME)
    configure_logging(settings.log_level, settings.log_format, tracing=provider is not None)
    if provider is not None:
        # Global, so that handlers' own spans (trace.get_tracer(...)) join the job's trace.
        trace.set_tracer_provider(provider)
    try:
        return asyncio.run(
            _serve(
                settings,
                login,
                job_types=job_types,
                max_concurrent_jobs=max_concurrent_jobs,
                grace_seconds=grace_seconds,
            )
        )
    finally:
        if provider is not None:
            provider.shutdown()  # sends the spans still batched


async def _serve(
    settings: WorkerSettings,
    login: Credentials,
    *,
    job_types: Sequence[str] | None,
    max_concurrent_jobs: int | None,
    grace_seconds: float,
) -> int:
    async with WorkerClient(settings.api_url, login) as client:
        worker = build_worker(
            settings,
            client,
            job_types=job_types,
            max_concurrent_jobs=max_concurrent_jobs,
            grace_seconds=grace_seconds,
        )
        loop = asyncio.get_running_loop()
        signals = (signal.SIGTERM, signal.SIGINT)
        for signum in signals:
            loop.add_signal_handler(signum, worker.stop)
        try:
            await worker.run()
        except ApiError as exc:
            log.error("the API refused this worker", status=exc.status_code, error=exc.message)
            return REFUSED
        finally:
            for signum in signals:
                loop.remove_signal_handler(signum)
    log.info("worker stopped")
    return OK
