"""Callers of the data specification routes, and specifications to send."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.callers import Caller
from tests.jobs.conftest import QUIET_SWEEPS


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return dict(QUIET_SWEEPS)


def criterion(name: str, low: float, high: float, **fields: Any) -> dict[str, Any]:
    """A criterion whose default range is its whole range, shown by its name."""
    return {
        "name": name,
        "display_title": name.title(),
        "payload_prefix": f"{name}_",
        "min_val": low,
        "max_val": high,
        "default_min_val": low,
        "default_max_val": high,
        **fields,
    }


def region(name: str, *criteria: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"name": name, "display_name": name.replace("-", " "), "criteria": list(criteria), **fields}


async def post_spec(client: httpx.AsyncClient, who: Caller, *regions: dict[str, Any]) -> httpx.Response:
    return await client.post(
        "/api/admin/data-specification", json={"regions": list(regions)}, headers=who.headers
    )


async def ranges(client: httpx.AsyncClient, who: Caller, region_name: str) -> dict[str, Any]:
    response = await client.get(f"/api/admin/criteria/{region_name}/ranges", headers=who.headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def regions(client: httpx.AsyncClient, who: Caller) -> list[dict[str, Any]]:
    response = await client.get("/api/admin/regions", headers=who.headers)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["regions"]
    return found
