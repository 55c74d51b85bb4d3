"""HTTP routes of /api/polygons."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/polygons", tags=["polygons"])
