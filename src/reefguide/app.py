"""The application factory: `create_app(settings)` builds everything; nothing happens at import."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from opentelemetry.trace import TracerProvider
from starlette.middleware.cors import CORSMiddleware

from reefguide import __version__
from reefguide.auth.context import AuthContext
from reefguide.auth.keys import KeyPair, load_or_create_key_pair
from reefguide.auth.routes import jwks_router
from reefguide.auth.routes import router as auth_router
from reefguide.cluster.build import build_backend
from reefguide.cluster.embedded import EmbeddedWorkers
from reefguide.cluster.routes import router as cluster_router
from reefguide.dataspec.routes import router as dataspec_router
from reefguide.db.base import utcnow
from reefguide.db.engine import create_engine, create_sessionmaker
from reefguide.http.handlers import install_error_handlers
from reefguide.http.health import router as health_router
from reefguide.http.middleware import RequestMiddleware
from reefguide.http.openapi import describe_routes
from reefguide.http.routing import API_PREFIX, ApiRouter
from reefguide.jobs.platform import JobPlatform
from reefguide.jobs.routes import admin_router as jobs_admin_router
from reefguide.jobs.routes import router as jobs_router
from reefguide.jobs.routes import worker_router as jobs_worker_router
from reefguide.mail import build_mailer
from reefguide.observability.logging import configure_logging
from reefguide.observability.metrics import Metrics
from reefguide.observability.routes import router as metrics_router
from reefguide.observability.tracing import SERVICE_NAME as TRACING_SERVICE_NAME
from reefguide.observability.tracing import TRACER_NAME, build_tracer_provider, telemetry_config
from reefguide.projects.group_routes import router as groups_router
from reefguide.projects.routes import router as projects_router
from reefguide.ratelimit import RateLimits
from reefguide.realtime.server import MOUNT_PATH, Realtime
from reefguide.settings import Settings
from reefguide.spatial.map_layer_routes import router as map_layers_router
from reefguide.spatial.note_routes import router as notes_router
from reefguide.spatial.routes import router as polygons_router
from reefguide.storage import build_storage
from reefguide.storage.routes import router as storage_router
from reefguide.users.password_reset_routes import router as password_reset_router
from reefguide.users.pre_approval_routes import router as pre_approval_router
from reefguide.users.routes import router as users_router

log = structlog.get_logger(__name__)

DOCS_URL = f"{API_PREFIX}/docs"
OPENAPI_URL = f"{API_PREFIX}/openapi.json"

DESCRIPTION = """\
Accounts and roles, GeoJSON polygons with notes, projects and groups, and a job
platform whose workers claim jobs over HTTP.

Every error is `{"message": "…"}`; invalid requests are 400 with an `errors`
list naming each field. Where the original ReefGuide Web API answered 401 for a
missing role, this service answers 403.
"""


# Each included once, under /api: FastAPI matches a request against nested routers
# level by level, and that walk was a tenth of an authenticated request's cost.
# Routers whose paths cannot match a request are passed over at once
# (http/routing.py); those that can are tried in this order.
API_ROUTERS: tuple[ApiRouter, ...] = (
    health_router,
    jwks_router,
    auth_router,
    jobs_worker_router,
    jobs_router,
    pre_approval_router,
    password_reset_router,
    users_router,
    projects_router,
    groups_router,
    polygons_router,
    notes_router,
    map_layers_router,
    storage_router,
    jobs_admin_router,
    cluster_router,
    dataspec_router,
)


def create_app(
    settings: Settings, *, keys: KeyPair | None = None, tracer_provider: TracerProvider | None = None
) -> FastAPI:
    """`tracer_provider`: where request spans go (tests pass one); default: an OTLP
    exporter when OTEL_EXPORTER_OTLP_ENDPOINT is set, else no tracing at all."""
    owned_provider = None
    if tracer_provider is None:
        tracer_provider = owned_provider = build_tracer_provider(
            settings.otel_exporter_otlp_endpoint, service_name=TRACING_SERVICE_NAME
        )
    configure_logging(settings, tracing=tracer_provider is not None)
    engine = create_engine(settings.effective_database_url, pool_size=settings.db_pool_size)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        platform: JobPlatform = app.state.jobs
        platform.start()
        realtime: Realtime = app.state.realtime
        await realtime.start(platform.events)
        app.state.embedded = await _start_embedded_workers(app, settings)
        try:
            yield
        finally:
            # Done already when `serve` began the stop with begin_stop (then a no-op).
            await stop_local_workers(app)
            await app.state.cluster.close()  # a no-op for a local backend closed just now
            await realtime.stop()
            await platform.stop()
            await engine.dispose()
            if owned_provider is not None:
                await asyncio.to_thread(owned_provider.shutdown)  # sends the spans still batched

    app = FastAPI(
        title="ReefGuide API",
        version=__version__,
        description=DESCRIPTION,
        docs_url=DOCS_URL,
        redoc_url=None,
        openapi_url=OPENAPI_URL,
        lifespan=lifespan,
        telemetry=telemetry_config(tracer_provider),
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.auth = AuthContext.build(settings, keys or load_or_create_key_pair(settings))
    app.state.rate_limits = RateLimits(enabled=not settings.test_mode)
    app.state.mailer = build_mailer(settings)
    app.state.storage = build_storage(settings)
    # Where workers run; local workers get this server's address and WORKER_* credential.
    app.state.cluster = build_backend(settings)
    app.state.embedded = None
    app.state.local_workers_stopped = None
    app.state.clock = utcnow
    app.state.metrics = Metrics()
    app.state.tracer = None if tracer_provider is None else tracer_provider.get_tracer(TRACER_NAME)
    app.state.jobs = JobPlatform.build(
        settings,
        app.state.sessionmaker,
        app.state.storage,
        lambda: app.state.clock(),
        metrics=app.state.metrics.jobs,
    )
    app.state.queue = app.state.jobs.queue
    app.state.claim_waker = app.state.jobs.waker
    app.state.realtime = Realtime(
        settings, auth=app.state.auth, engine=engine, sessionmaker=app.state.sessionmaker
    )

    for router in API_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(metrics_router)  # GET /metrics, for Prometheus: not under /api
    install_error_handlers(app)
    describe_routes(app)
    # Socket.IO (live job updates); not an API route, so not in the OpenAPI document.
    app.mount(MOUNT_PATH, app.state.realtime.asgi_app)

    app.add_middleware(
        RequestMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        docs_paths=frozenset({DOCS_URL}),
        metrics=app.state.metrics.http,
    )
    # Added last, so outermost: a 413 or 500 from the request middleware still
    # carries the CORS headers a browser needs to read it.
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    return app


async def _start_embedded_workers(app: FastAPI, settings: Settings) -> EmbeddedWorkers | None:
    """The manager and local workers inside this server (cluster/embedded.py), when on."""
    wanted = settings.embedded_workers and settings.embedded_max_workers > 0
    if not wanted or settings.cluster_backend != "local":
        return None
    embedded = await EmbeddedWorkers.start(
        settings, app.state.sessionmaker, app.state.auth.passwords, now=lambda: app.state.clock()
    )
    # The backend built with the app has no credential for its workers and never ran one.
    await app.state.cluster.close()
    app.state.cluster = embedded.backend
    return embedded


async def begin_stop(app: FastAPI) -> None:
    """The first step of a stop, while the server still listens (`serve` runs it on
    SIGTERM or Ctrl-C, before uvicorn stops accepting): waiting claims answer (within
    a second), the workers this server started finish or release their jobs
    (reporting through this server), and Socket.IO connections are closed once the
    job updates of those stops have gone out. Claims and Socket.IO long polls would
    otherwise hold up uvicorn's wait for in-flight requests."""
    app.state.jobs.drain()
    await stop_local_workers(app)
    await app.state.realtime.begin_stop()


def hurry_stop(app: FastAPI) -> None:
    """A second SIGTERM or Ctrl-C: the workers being stopped release their jobs now,
    to run again elsewhere, instead of finishing them."""
    app.state.cluster.hurry()  # the embedded workers' backend, when they are on


async def stop_local_workers(app: FastAPI) -> None:
    """Stop the worker processes of this server: the embedded ones (their manager
    first, so none starts meanwhile), or an admin's always-on local ones. SIGTERM
    lets each finish its job within its grace, or release it. Safe to call again:
    a later call waits for the first; cancelling a caller does not cut the stop short."""
    stopped: asyncio.Task[None] | None = app.state.local_workers_stopped
    if stopped is None:
        stopped = app.state.local_workers_stopped = asyncio.ensure_future(_stop_local_workers(app))
    await asyncio.shield(stopped)


async def _stop_local_workers(app: FastAPI) -> None:
    embedded: EmbeddedWorkers | None = app.state.embedded
    if embedded is not None:
        await embedded.stop()  # closes its backend, app.state.cluster
        log.info("embedded workers stopped")
    elif app.state.cluster.name == "local":
        await app.state.cluster.close()
    # Remote (ECS) workers are not this process's to stop: the backend is closed with the rest.
