"""Result files uploaded to local storage may exceed MAX_BODY_BYTES, up to
REEFGUIDE_MAX_UPLOAD_BYTES; every other route keeps the small limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

pytestmark = pytest.mark.parametrize(
    "settings_overrides", [{"max_body_bytes": 100, "max_upload_bytes": 1000}]
)

# Any path under /api/storage/: an unsigned one is refused (403) once past the limit.
STORAGE_PATH = "/api/storage/results/test/1/1/a.txt?expires=1&signature=x"


async def chunks(total: int, size: int = 50) -> AsyncIterator[bytes]:
    for _ in range(total // size):
        yield b"x" * size


async def test_a_storage_upload_over_max_body_bytes_passes_the_limit(client: httpx.AsyncClient) -> None:
    response = await client.put(STORAGE_PATH, content=b"x" * 1000)
    assert response.status_code == 403


async def test_a_chunked_storage_upload_over_max_body_bytes_passes_the_limit(
    client: httpx.AsyncClient,
) -> None:
    response = await client.put(STORAGE_PATH, content=chunks(1000))
    assert response.status_code == 403


async def test_a_storage_upload_over_max_upload_bytes_is_413(client: httpx.AsyncClient) -> None:
    response = await client.put(STORAGE_PATH, content=b"x" * 1001)
    assert response.status_code == 413
    assert response.json() == {"message": "Request body exceeds 1000 bytes"}


async def test_other_routes_keep_max_body_bytes(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/token", json={"refreshToken": "x" * 200})
    assert response.status_code == 413
    assert response.json() == {"message": "Request body exceeds 100 bytes"}


async def test_a_path_that_only_starts_like_storage_keeps_max_body_bytes(client: httpx.AsyncClient) -> None:
    response = await client.put("/api/storagex/a.txt", content=b"x" * 200)
    assert response.status_code == 413
