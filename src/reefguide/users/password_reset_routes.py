"""HTTP routes of /api/password-reset."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/password-reset", tags=["password reset"])
