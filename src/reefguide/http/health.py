"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text

from reefguide.errors import ServiceUnavailable
from reefguide.http.handlers import DATABASE_DOWN
from reefguide.schemas import Message

router = APIRouter(tags=["health"])


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
    """Ready to serve: the database answers."""
    try:
        async with request.app.state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        raise ServiceUnavailable(DATABASE_DOWN) from None
    return {"status": "ok", "database": "ok"}
