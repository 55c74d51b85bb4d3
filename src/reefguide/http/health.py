"""Liveness and readiness."""

from __future__ import annotations

import asyncio

import structlog
from fastapi import Request
from sqlalchemy import text

from reefguide.errors import ServiceUnavailable
from reefguide.http.handlers import DATABASE_DOWN
from reefguide.http.routing import ApiRouter
from reefguide.schemas import Message

log = structlog.get_logger(__name__)

router = ApiRouter(tags=["health"])

# A probe must answer before the orchestrator's own timeout, even when the database
# host swallows packets or accepts connections and never replies.
READY_TIMEOUT_SECONDS = 3.0


@router.get("/")
async def root() -> Message:
    """The original's health check."""
    return Message(message="API healthy.")


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is up (does not touch the database)."""
    return {"status": "ok"}


@router.get("/health/ready", responses={503: {"description": "The database is unreachable"}})
async def ready(request: Request) -> dict[str, str]:
    """Ready to serve: the database answers within a few seconds."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            async with request.app.state.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("readiness check failed", error=type(exc).__name__)
        raise ServiceUnavailable(DATABASE_DOWN) from None
    return {"status": "ok", "database": "ok"}
