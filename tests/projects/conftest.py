"""The cast every access test of projects and groups runs against."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from tests.projects.helpers import Cast, build_cast


@pytest.fixture
async def cast(app: FastAPI) -> Cast:
    return await build_cast(app)
