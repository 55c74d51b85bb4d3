"""An admin and an analyst for every test of user admin and pre-approval."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from reefguide.users.models import Role
from tests.users.helpers import Caller, caller


@pytest.fixture
async def admin(app: FastAPI) -> Caller:
    return await caller(app, Role.ADMIN)


@pytest.fixture
async def analyst(app: FastAPI) -> Caller:
    return await caller(app, Role.ANALYST)
