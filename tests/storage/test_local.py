"""Local storage through the API: workers PUT to signed URLs, users GET from them."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from reefguide.storage import TooManyFiles
from reefguide.storage.local import UPLOADS_DIR, LocalStorage
from tests.storage.conftest import files_under

HOUR = 3600
MIB = 1024 * 1024


async def put_files(
    client: httpx.AsyncClient, storage: LocalStorage, uri: str, files: dict[str, bytes]
) -> None:
    urls = await storage.upload_urls(uri, list(files), HOUR)
    assert set(urls) == set(files)
    for name, content in files.items():
        response = await client.put(urls[name], content=content)
        assert response.status_code == 200, response.text


async def download_urls(storage: LocalStorage, uri: str, prefix: str | None = None) -> dict[str, str]:
    return await storage.download_urls(uri, prefix=prefix, max_files=25, expires_seconds=HOUR)


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()} | changes
    return parts._replace(query=urlencode(query)).geturl()


def test_an_assignment_is_stored_by_type_job_and_attempt(local_storage: LocalStorage) -> None:
    assert local_storage.scheme == "LOCAL"
    assert local_storage.location("SUITABILITY_ASSESSMENT", 12, 2) == (
        "local://results/suitability_assessment/12/2"
    )


async def test_uploaded_files_download_with_the_same_bytes(
    client: httpx.AsyncClient, local_storage: LocalStorage, data_dir: Path
) -> None:
    uri = local_storage.location("TEST", 1, 1)
    files = {
        "suitable.geojson": b'{"type": "FeatureCollection", "features": []}',
        "charts/coral cover.json": b"{}",
        "charts/deep/nested/raster.tiff": bytes(range(256)) * 10,
        "empty.txt": b"",
    }
    await put_files(client, local_storage, uri, files)

    urls = await download_urls(local_storage, uri)
    assert set(urls) == set(files)
    for name, content in files.items():
        response = await client.get(urls[name])
        assert response.status_code == 200
        assert response.content == content
    stored = data_dir / "storage" / "results" / "test" / "1" / "1" / "charts" / "coral cover.json"
    assert stored.read_bytes() == b"{}"


async def test_urls_point_at_the_api_domain(local_storage: LocalStorage) -> None:
    uri = local_storage.location("TEST", 7, 3)
    url = (await local_storage.upload_urls(uri, ["out/a b.txt"], HOUR))["out/a b.txt"]
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "http://test"
    assert parts.path == "/api/storage/results/test/7/3/out/a%20b.txt"
    assert set(parse_qs(parts.query)) == {"expires", "signature"}


async def test_downloads_carry_a_content_type_by_extension_and_a_sandbox(
    client: httpx.AsyncClient, local_storage: LocalStorage
) -> None:
    uri = local_storage.location("TEST", 1, 1)
    await put_files(client, local_storage, uri, {"a.geojson": b"{}", "page.html": b"<script></script>"})
    urls = await download_urls(local_storage, uri)
    geojson = await client.get(urls["a.geojson"])
    assert geojson.headers["content-type"] == "application/geo+json"
    page = await client.get(urls["page.html"])
    assert page.headers["content-type"].startswith("text/html")
    assert "sandbox" in page.headers.get_list("content-security-policy")


async def test_a_file_larger_than_the_json_body_limit_is_streamed_to_disk(
    client: httpx.AsyncClient, local_storage: LocalStorage
) -> None:
    content = os.urandom(3 * MIB + 12345)

    async def body() -> AsyncIterator[bytes]:
        for start in range(0, len(content), 64 * 1024):
            yield content[start : start + 64 * 1024]

    uri = local_storage.location("TEST", 1, 1)
    url = (await local_storage.upload_urls(uri, ["big.bin"], HOUR))["big.bin"]
    response = await client.put(url, content=body())
    assert response.status_code == 200
    downloaded = await client.get((await download_urls(local_storage, uri))["big.bin"])
    assert downloaded.content == content


async def test_a_second_put_replaces_the_file(client: httpx.AsyncClient, local_storage: LocalStorage) -> None:
    uri = local_storage.location("TEST", 1, 1)
    await put_files(client, local_storage, uri, {"a.txt": b"first version, longer"})
    await put_files(client, local_storage, uri, {"a.txt": b"second"})
    response = await client.get((await download_urls(local_storage, uri))["a.txt"])
    assert response.content == b"second"


async def test_assignments_do_not_see_each_others_files(
    client: httpx.AsyncClient, local_storage: LocalStorage
) -> None:
    first, retry = local_storage.location("TEST", 1, 1), local_storage.location("TEST", 1, 2)
    await put_files(client, local_storage, first, {"a.txt": b"1"})
    await put_files(client, local_storage, retry, {"b.txt": b"2"})
    assert set(await download_urls(local_storage, first)) == {"a.txt"}
    assert set(await download_urls(local_storage, retry)) == {"b.txt"}
    assert await download_urls(local_storage, local_storage.location("TEST", 2, 1)) == {}


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("out/", {"out/b.txt", "out/c/d.txt"}),
        ("out", {"out/b.txt", "out/c/d.txt", "outline.txt"}),
        ("out/c", {"out/c/d.txt"}),
        ("nothing", set()),
        (None, {"a.txt", "out/b.txt", "out/c/d.txt", "outline.txt"}),
    ],
)
async def test_a_prefix_narrows_the_listing_and_keeps_whole_relative_paths(
    client: httpx.AsyncClient, local_storage: LocalStorage, prefix: str | None, expected: set[str]
) -> None:
    uri = local_storage.location("TEST", 1, 1)
    files = dict.fromkeys(["a.txt", "out/b.txt", "out/c/d.txt", "outline.txt"], b"x")
    await put_files(client, local_storage, uri, files)
    assert set(await download_urls(local_storage, uri, prefix)) == expected


async def test_more_files_than_the_limit_is_400_saying_how_many(
    client: httpx.AsyncClient, local_storage: LocalStorage
) -> None:
    uri = local_storage.location("TEST", 1, 1)
    await put_files(client, local_storage, uri, {f"f{i}.txt": b"x" for i in range(5)})
    with pytest.raises(TooManyFiles) as caught:
        await local_storage.download_urls(uri, prefix=None, max_files=4, expires_seconds=HOUR)
    assert caught.value.status_code == 400
    assert "There are 5 files" in caught.value.message
    assert "limit of 4" in caught.value.message
    # The limit counts what the prefix leaves.
    narrowed = await local_storage.download_urls(uri, prefix="f1", max_files=4, expires_seconds=HOUR)
    assert set(narrowed) == {"f1.txt"}


async def test_an_expired_url_is_403(client: httpx.AsyncClient, local_storage: LocalStorage) -> None:
    uri = local_storage.location("TEST", 1, 1)
    url = (await local_storage.upload_urls(uri, ["a.txt"], -1))["a.txt"]
    response = await client.put(url, content=b"late")
    assert response.status_code == 403
    assert response.json() == {"message": "This URL has expired"}
    assert await download_urls(local_storage, uri) == {}


async def test_an_expired_download_url_is_403(client: httpx.AsyncClient, local_storage: LocalStorage) -> None:
    uri = local_storage.location("TEST", 1, 1)
    await put_files(client, local_storage, uri, {"a.txt": b"x"})
    url = (await local_storage.download_urls(uri, prefix=None, max_files=1, expires_seconds=-1))["a.txt"]
    response = await client.get(url)
    assert response.status_code == 403
    assert response.json() == {"message": "This URL has expired"}


@pytest.mark.parametrize(
    "tamper",
    [
        lambda url: with_query(url, signature="0" * 64),
        lambda url: with_query(url, signature=""),
        lambda url: with_query(url, signature="ü"),
        lambda url: with_query(url, expires=str(int(parse_qs(urlsplit(url).query)["expires"][0]) + 3600)),
        lambda url: with_query(url, expires="not-a-time"),
        lambda url: url.split("?")[0],
        lambda url: url.replace("/a.txt?", "/b.txt?"),
        lambda url: url.replace("/results/test/1/1/", "/results/test/1/2/"),
    ],
    ids=[
        "signature",
        "no-signature",
        "non-ascii",
        "later-expiry",
        "bad-expiry",
        "no-query",
        "file",
        "folder",
    ],
)
async def test_a_tampered_url_is_403(
    client: httpx.AsyncClient, local_storage: LocalStorage, tamper: object
) -> None:
    assert callable(tamper)
    uri = local_storage.location("TEST", 1, 1)
    url = (await local_storage.upload_urls(uri, ["a.txt"], HOUR))["a.txt"]
    response = await client.put(tamper(url), content=b"forged")
    assert response.status_code == 403
    assert response.json() == {"message": "Invalid signature"}
    assert await download_urls(local_storage, uri) == {}
    assert await download_urls(local_storage, local_storage.location("TEST", 1, 2)) == {}


async def test_a_download_url_cannot_upload(client: httpx.AsyncClient, local_storage: LocalStorage) -> None:
    uri = local_storage.location("TEST", 1, 1)
    await put_files(client, local_storage, uri, {"a.txt": b"original"})
    url = (await download_urls(local_storage, uri))["a.txt"]
    response = await client.put(url, content=b"overwritten")
    assert response.status_code == 403
    assert (await client.get(url)).content == b"original"


async def test_an_upload_url_cannot_download(client: httpx.AsyncClient, local_storage: LocalStorage) -> None:
    uri = local_storage.location("TEST", 1, 1)
    url = (await local_storage.upload_urls(uri, ["a.txt"], HOUR))["a.txt"]
    assert (await client.put(url, content=b"x")).status_code == 200
    response = await client.get(url)
    assert response.status_code == 403


async def test_a_signed_url_for_a_missing_file_is_404(
    client: httpx.AsyncClient, local_storage: LocalStorage, data_dir: Path
) -> None:
    uri = local_storage.location("TEST", 1, 1)
    await put_files(client, local_storage, uri, {"a.txt": b"x"})
    url = (await download_urls(local_storage, uri))["a.txt"]
    (data_dir / "storage" / "results" / "test" / "1" / "1" / "a.txt").unlink()
    response = await client.get(url)
    assert response.status_code == 404
    assert response.json() == {"message": "File not found"}


async def test_a_file_where_a_folder_is_is_409(
    client: httpx.AsyncClient, local_storage: LocalStorage
) -> None:
    uri = local_storage.location("TEST", 1, 1)
    await put_files(client, local_storage, uri, {"out/a.txt": b"x"})
    urls = await local_storage.upload_urls(uri, ["out", "out/a.txt/b.txt"], HOUR)
    for url in urls.values():
        response = await client.put(url, content=b"y")
        assert response.status_code == 409
    assert set(await download_urls(local_storage, uri)) == {"out/a.txt"}


@pytest.mark.parametrize("settings_overrides", [{"max_upload_bytes": 1000}])
async def test_an_upload_over_the_limit_leaves_nothing_behind(
    client: httpx.AsyncClient, local_storage: LocalStorage, data_dir: Path
) -> None:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 500

    uri = local_storage.location("TEST", 1, 1)
    url = (await local_storage.upload_urls(uri, ["a.txt"], HOUR))["a.txt"]
    response = await client.put(url, content=body())
    assert response.status_code == 413
    assert await download_urls(local_storage, uri) == {}
    uploads = data_dir / "storage" / UPLOADS_DIR
    assert uploads.is_dir(), "the upload was started"
    assert files_under(uploads) == set()


async def test_the_secret_is_private_and_kept_across_restarts(
    client: httpx.AsyncClient, local_storage: LocalStorage, data_dir: Path, app: FastAPI
) -> None:
    uri = local_storage.location("TEST", 1, 1)
    url = (await local_storage.upload_urls(uri, ["a.txt"], HOUR))["a.txt"]
    secret = data_dir / "storage-secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert len(secret.read_bytes()) == 32

    # Another process on the same data directory honours the URL.
    app.state.storage = LocalStorage(data_dir=data_dir, api_domain="http://test")
    assert (await client.put(url, content=b"x")).status_code == 200
