"""No URL, signed or not, reads or writes outside the storage root."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from reefguide.storage.local import LocalStorage
from tests.storage.conftest import files_under, raw_request

HOUR = 3600

# Paths after /api/storage/, as sent on the wire.
ESCAPES = [
    b"../outside.txt",
    b"../../outside.txt",
    b"results/test/1/1/../../../../../outside.txt",
    b"results/test/1/1/../../../../../../../../../../tmp/outside.txt",
    b"%2e%2e/outside.txt",
    b"%2E%2E%2Foutside.txt",
    b"results/%2e%2e%2f%2e%2e%2f..%2f..%2f..%2foutside.txt",
    b"/tmp/outside.txt",
    b"%2Ftmp%2Foutside.txt",
    b"results%5C..%5C..%5Coutside.txt",
    b"results/test/1/1/a%00.txt",
    b"results//outside.txt",
    b"./results/test/1/1/a.txt",
    b"results/test/1/1/.",
    b"",
]


async def signed_query(storage: LocalStorage) -> bytes:
    """A genuine signature and expiry (for another path): the path is refused before
    the signature is even looked at."""
    url = (await storage.upload_urls(storage.location("TEST", 1, 1), ["a.txt"], HOUR))["a.txt"]
    return urlsplit(url).query.encode()


@pytest.mark.parametrize("path", ESCAPES, ids=[p.decode() or "empty" for p in ESCAPES])
async def test_a_path_out_of_the_root_is_400_and_writes_nothing(
    app: FastAPI, local_storage: LocalStorage, data_dir: Path, path: bytes
) -> None:
    query = await signed_query(local_storage)  # also creates the secret before the snapshot
    before = files_under(data_dir.parent)
    status, body = await raw_request(app, "PUT", b"/api/storage/" + path + b"?" + query, b"evil")
    assert status == 400, body
    assert "message" in json.loads(body)
    assert files_under(data_dir.parent) == before
    assert not Path("/tmp/outside.txt").exists()  # noqa: S108 (where two of the paths lead)


@pytest.mark.parametrize("path", [b"../storage-secret", b"%2e%2e/storage-secret", b"..%2fstorage-secret"])
async def test_a_path_out_of_the_root_cannot_be_read(
    app: FastAPI, local_storage: LocalStorage, data_dir: Path, path: bytes
) -> None:
    query = await signed_query(local_storage)
    status, body = await raw_request(app, "GET", b"/api/storage/" + path + b"?" + query)
    assert status == 400
    assert json.loads(body) == {"message": "File path must not contain '..'"}


async def test_a_symbolic_link_out_of_the_root_is_not_followed(
    client: httpx.AsyncClient, local_storage: LocalStorage, data_dir: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"not yours")
    folder = data_dir / "storage" / "results" / "test" / "1" / "1"
    folder.mkdir(parents=True)
    (folder / "link").symlink_to(outside, target_is_directory=True)
    (folder / "file-link.txt").symlink_to(outside / "secret.txt")
    uri = local_storage.location("TEST", 1, 1)

    uploads = await local_storage.upload_urls(uri, ["link/new.txt", "link/secret.txt"], HOUR)
    for url in uploads.values():
        response = await client.put(url, content=b"evil")
        assert response.status_code == 400
        assert response.json() == {"message": "File path leads out of the storage root"}
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == b"not yours"

    # Links are not listed.
    assert await local_storage.download_urls(uri, prefix=None, max_files=25, expires_seconds=HOUR) == {}


async def test_a_file_swapped_for_a_link_out_of_the_root_is_not_served(
    client: httpx.AsyncClient, local_storage: LocalStorage, data_dir: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"not yours")
    uri = local_storage.location("TEST", 1, 1)
    upload = (await local_storage.upload_urls(uri, ["a.txt"], HOUR))["a.txt"]
    assert (await client.put(upload, content=b"mine")).status_code == 200
    download = (await local_storage.download_urls(uri, prefix=None, max_files=1, expires_seconds=HOUR))[
        "a.txt"
    ]

    stored = data_dir / "storage" / "results" / "test" / "1" / "1" / "a.txt"
    stored.unlink()
    stored.symlink_to(secret)
    response = await client.get(download)
    assert response.status_code == 400
    assert b"not yours" not in response.content
    assert (await client.put(upload, content=b"evil")).status_code == 400
    assert secret.read_bytes() == b"not yours"
