"""HTTP routes of /api/map-layers."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/map-layers", tags=["map layers"])
