"""HTTP routes of /api/notes."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/notes", tags=["notes"])
