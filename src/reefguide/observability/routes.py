"""GET /metrics: Prometheus text format, for the operator's scraper.

Outside /api and outside the OpenAPI document: it is not part of the API that
clients program against. With METRICS_TOKEN set it asks for
`Authorization: Bearer <token>`.
"""

from __future__ import annotations

import asyncio
import hmac

import structlog
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4

from reefguide.db.session import unit_of_work
from reefguide.errors import Unauthorized
from reefguide.jobs import service as jobs
from reefguide.observability.metrics import JobCount, Metrics

log = structlog.get_logger(__name__)

router = APIRouter()

# A scrape must answer before Prometheus's own timeout (10 s by default), database or not.
JOB_COUNTS_TIMEOUT_SECONDS = 3.0


def _authorized(expected: str | None, authorization: str | None) -> bool:
    if not expected:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    # Constant time: the comparison does not tell how much of a guess was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())


async def _job_counts(request: Request) -> list[JobCount] | None:
    """The jobs table by type and status; None (logged) when the database does not
    answer in time: the process's own metrics are served all the same."""
    try:
        async with asyncio.timeout(JOB_COUNTS_TIMEOUT_SECONDS):
            async with unit_of_work(request.app.state.sessionmaker) as session:
                rows = await jobs.status_counts(session)
    except Exception as exc:
        log.warning("metrics: job counts unavailable", error=type(exc).__name__)
        return None
    return [JobCount(*row) for row in rows]


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    if not _authorized(request.app.state.settings.metrics_token, request.headers.get("authorization")):
        raise Unauthorized("A valid metrics token is required", headers={"WWW-Authenticate": "Bearer"})
    app_metrics: Metrics = request.app.state.metrics
    body = app_metrics.render(await _job_counts(request), now=request.app.state.clock())
    # The classic text format (0.0.4), which every Prometheus reads.
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)
