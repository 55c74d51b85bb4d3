"""The cast every spatial API test starts from."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from tests.spatial.helpers import Cast, build_cast


@pytest.fixture
async def cast(app: FastAPI) -> Cast:
    return await build_cast(app)
