"""HTTP routes of /api/admin for the worker service: status, scale, redeploy (ADMIN only).

They keep the original README's shapes and go through the configured compute
backend (`app.state.cluster`). A failure of the backend is a 502 (it answered with
an error) or a 503 (it cannot be reached or is not configured), naming the cause.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, Request

from reefguide.auth.dependencies import AdminUser
from reefguide.cluster.base import BackendError, BackendUnavailable, ComputeBackend
from reefguide.cluster.schemas import ClusterStatusOut, ScaleIn, ScaleOut
from reefguide.errors import ApiError, ServiceUnavailable
from reefguide.http.routing import ApiRouter
from reefguide.schemas import Message

router = ApiRouter(prefix="/admin", tags=["admin"])

BACKEND_ERRORS: dict[int | str, dict[str, Any]] = {
    502: {"description": "The compute backend answered with an error (e.g. no such ECS service)"},
    503: {"description": "The compute backend cannot be reached or is not configured (or the database)"},
}


class BadGateway(ApiError):
    status_code = 502
    default_message = "The compute backend failed"


async def _backend(request: Request) -> ComputeBackend:
    # async on purpose: FastAPI runs a plain `def` dependency in a worker thread.
    backend: ComputeBackend | None = getattr(request.app.state, "cluster", None)
    if backend is None:
        raise ServiceUnavailable("No compute backend is configured")
    return backend


BackendDep = Annotated[ComputeBackend, Depends(_backend)]


@asynccontextmanager
async def _backend_errors() -> AsyncIterator[None]:
    try:
        yield
    except BackendUnavailable as exc:
        raise ServiceUnavailable(f"Compute backend unavailable: {exc}") from exc
    except BackendError as exc:
        raise BadGateway(f"Compute backend error: {exc}") from exc


@router.get("/status", responses=BACKEND_ERRORS)
async def cluster_status(_admin: AdminUser, backend: BackendDep) -> ClusterStatusOut:
    """The worker service as the compute backend sees it: running, pending and desired
    workers, its deployments (one PRIMARY; an ACTIVE one while a redeploy replaces it)
    and its five latest events, newest first."""
    async with _backend_errors():
        status = await backend.status()
    return ClusterStatusOut.model_validate(status)


@router.post("/scale", responses=BACKEND_ERRORS)
async def scale_cluster(body: ScaleIn, _admin: AdminUser, backend: BackendDep) -> ScaleOut:
    """Keep `desiredCount` (0 to 10) always-on workers running. Answers once the backend
    has accepted the count; follow the workers starting or stopping in `/api/admin/status`."""
    async with _backend_errors():
        await backend.scale(body.desired_count)
    return ScaleOut(
        message=f"Scaling the worker service to {body.desired_count}", desired_count=body.desired_count
    )


@router.post("/redeploy", responses=BACKEND_ERRORS)
async def redeploy_cluster(_admin: AdminUser, backend: BackendDep) -> Message:
    """Replace the always-on workers with fresh ones (the latest image on ECS), rolling:
    new workers start before old ones stop, and at least half stay up (minimum healthy
    50 %, maximum 200 %). Follow it in `/api/admin/status`."""
    async with _backend_errors():
        await backend.redeploy()
    return Message(message="Redeploying the worker service")
