"""HTTP routes of /api/groups: groups, members, managers, ownership."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/groups", tags=["groups"])
