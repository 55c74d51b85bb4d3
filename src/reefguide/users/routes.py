"""HTTP routes of /api/users: user admin, search, the audit log."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/users", tags=["users"])
