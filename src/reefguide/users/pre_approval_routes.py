"""HTTP routes of /api/auth/admin/pre-approved-users."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/auth/admin/pre-approved-users", tags=["pre-approval"])
