"""HTTP routes of /api/projects: projects, sharing, publicity."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/projects", tags=["projects"])
