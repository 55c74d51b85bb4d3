"""`reefguide manager`: the loop with its HTTP client, health check and signals.

The compute backend comes from the caller (the CLI builds it), so this package
needs nothing of the server. Exit codes: 0 when stopped (SIGTERM, SIGINT) or after
a successful `--once`; 1 when the one poll of `--once` failed, or the health port
is taken; 2 for a bad setting (raised before anything starts, by the config).
"""

from __future__ import annotations

import asyncio
import signal

import structlog
from opentelemetry import trace

from reefguide.cluster.base import ComputeBackend
from reefguide.manager.config import ManagerConfig
from reefguide.manager.health import HealthServer
from reefguide.manager.loop import CapacityManager, HttpBacklog
from reefguide.worker.client import WorkerClient
from reefguide.worker.logs import configure_logging
from reefguide.worker.tracing import build_tracer_provider

log = structlog.get_logger(__name__)

OK, FAILED, BAD_SETTING = 0, 1, 2
SERVICE_NAME = "reefguide-manager"  # unless OTEL_SERVICE_NAME says otherwise


def run_manager(
    config: ManagerConfig, backend: ComputeBackend, *, dry_run: bool = False, once: bool = False
) -> int:
    """Run until stopped by a signal (or for one poll); returns the exit code. The
    backend is closed on the way out."""
    provider = build_tracer_provider(config.otel_endpoint, service_name=SERVICE_NAME)
    configure_logging(config.log_level, config.log_format, tracing=provider is not None)
    if provider is not None:
        trace.set_tracer_provider(provider)
    try:
        return asyncio.run(serve_manager(config, backend, dry_run=dry_run, once=once))
    finally:
        if provider is not None:
            provider.shutdown()  # sends the spans still batched


async def serve_manager(
    config: ManagerConfig, backend: ComputeBackend, *, dry_run: bool = False, once: bool = False
) -> int:
    try:
        async with WorkerClient(config.api_url, config.credentials) as client:
            manager = CapacityManager(
                HttpBacklog(client),
                backend,
                config.pools,
                poll_interval=config.poll_interval_seconds,
                dry_run=dry_run,
            )
            log.info(
                "manager started",
                api=config.api_url,
                backend=backend.name,
                dry_run=dry_run,
                poll_interval_seconds=config.poll_interval_seconds,
                pools={pool.name: list(pool.job_types) for pool in config.pools},
            )
            if once:
                outcome = await manager.poll_once()
                return OK if outcome.ok else FAILED
            return await _serve(manager, config)
    finally:
        await backend.close()
        log.info("manager stopped")


async def _serve(manager: CapacityManager, config: ManagerConfig) -> int:
    health = HealthServer(manager.healthy, config.health_host, config.health_port)
    try:
        await health.start()
    except OSError as exc:
        log.error(
            "cannot listen for health checks",
            address=f"{config.health_host}:{config.health_port}",
            error=exc.strerror or str(exc),
        )
        return FAILED
    log.info("health check listening", url=f"http://{config.health_host}:{health.port}/health")
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for signum in signals:
        loop.add_signal_handler(signum, manager.stop)
    try:
        await manager.run()
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
        await health.close()
    return OK
