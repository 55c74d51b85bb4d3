"""S3 storage against moto's server on loopback, through real presigned-URL requests."""

from __future__ import annotations

from typing import Any

import boto3
import httpx
import pytest
from fastapi import FastAPI

from reefguide.errors import BadRequest
from reefguide.storage import TooManyFiles
from reefguide.storage.s3 import S3Storage
from tests.storage.conftest import REGION

HOUR = 3600


async def put_files(storage: S3Storage, uri: str, files: dict[str, bytes]) -> None:
    urls = await storage.upload_urls(uri, list(files), HOUR)
    assert set(urls) == set(files)
    async with httpx.AsyncClient() as http:
        for name, content in files.items():
            response = await http.put(urls[name], content=content)
            assert response.status_code == 200, response.text


async def listing(storage: S3Storage, uri: str, prefix: str | None = None) -> dict[str, str]:
    return await storage.download_urls(uri, prefix=prefix, max_files=25, expires_seconds=HOUR)


def test_an_assignment_is_stored_by_type_job_and_attempt(s3_storage: S3Storage, bucket: str) -> None:
    assert s3_storage.scheme == "S3"
    assert s3_storage.location("ADRIA_MODEL_RUN", 42, 3) == f"s3://{bucket}/results/adria_model_run/42/3"


async def test_uploaded_files_download_with_the_same_bytes(
    s3_storage: S3Storage, bucket: str, moto_endpoint: str
) -> None:
    uri = s3_storage.location("TEST", 1, 1)
    files = {
        "suitable.geojson": b'{"type": "FeatureCollection", "features": []}',
        "charts/coral cover.json": b"{}",
        "charts/deep/nested/raster.tiff": bytes(range(256)) * 10,
        "ünïcode.txt": "ünïcode".encode(),
    }
    await put_files(s3_storage, uri, files)

    urls = await listing(s3_storage, uri)
    assert set(urls) == set(files)
    async with httpx.AsyncClient() as http:
        for name, content in files.items():
            response = await http.get(urls[name])
            assert response.status_code == 200
            assert response.content == content
        geojson = await http.get(urls["suitable.geojson"])
        assert geojson.headers["content-type"] == "application/geo+json"
    # Where the files are, as another S3 client sees them.
    admin = boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION)
    key = admin.get_object(Bucket=bucket, Key="results/test/1/1/charts/coral cover.json")
    assert key["Body"].read() == b"{}"


async def test_urls_are_presigned_for_the_endpoint(s3_storage: S3Storage, moto_endpoint: str) -> None:
    uri = s3_storage.location("TEST", 1, 1)
    url = (await s3_storage.upload_urls(uri, ["a.txt"], HOUR))["a.txt"]
    assert url.startswith(f"{moto_endpoint}/")
    assert "X-Amz-Signature=" in url
    assert "X-Amz-Expires=3600" in url


async def test_assignments_do_not_see_each_others_files(s3_storage: S3Storage) -> None:
    first, retry = s3_storage.location("TEST", 1, 1), s3_storage.location("TEST", 1, 2)
    other_job = s3_storage.location("TEST", 11, 1)  # shares "results/test/1" as a string prefix
    await put_files(s3_storage, first, {"a.txt": b"1"})
    await put_files(s3_storage, retry, {"b.txt": b"2"})
    await put_files(s3_storage, other_job, {"c.txt": b"3"})
    assert set(await listing(s3_storage, first)) == {"a.txt"}
    assert set(await listing(s3_storage, retry)) == {"b.txt"}
    assert await listing(s3_storage, s3_storage.location("TEST", 2, 1)) == {}


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
    s3_storage: S3Storage, prefix: str | None, expected: set[str]
) -> None:
    uri = s3_storage.location("TEST", 1, 1)
    await put_files(
        s3_storage, uri, dict.fromkeys(["a.txt", "out/b.txt", "out/c/d.txt", "outline.txt"], b"x")
    )
    assert set(await listing(s3_storage, uri, prefix)) == expected


async def test_folder_markers_are_not_files(s3_storage: S3Storage, bucket: str, moto_endpoint: str) -> None:
    uri = s3_storage.location("TEST", 1, 1)
    await put_files(s3_storage, uri, {"out/a.txt": b"x"})
    admin = boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION)
    admin.put_object(Bucket=bucket, Key="results/test/1/1/out/", Body=b"")
    assert set(await listing(s3_storage, uri)) == {"out/a.txt"}


async def test_more_files_than_the_limit_is_400_saying_how_many(s3_storage: S3Storage) -> None:
    uri = s3_storage.location("TEST", 1, 1)
    await put_files(s3_storage, uri, {f"f{i}.txt": b"x" for i in range(5)})
    with pytest.raises(TooManyFiles) as caught:
        await s3_storage.download_urls(uri, prefix=None, max_files=4, expires_seconds=HOUR)
    assert caught.value.status_code == 400
    assert "There are 5 files" in caught.value.message
    assert "limit of 4" in caught.value.message
    narrowed = await s3_storage.download_urls(uri, prefix="f1", max_files=4, expires_seconds=HOUR)
    assert set(narrowed) == {"f1.txt"}


@pytest.mark.parametrize("path", ["../a.txt", "/a.txt", "a\\b.txt", "a//b.txt"])
async def test_a_path_out_of_the_folder_is_refused(s3_storage: S3Storage, path: str) -> None:
    with pytest.raises(BadRequest):
        await s3_storage.upload_urls(s3_storage.location("TEST", 1, 1), ["ok.txt", path], HOUR)


async def test_the_app_uses_s3_when_configured(
    app: FastAPI, client: httpx.AsyncClient, s3_settings: dict[str, Any], bucket: str
) -> None:
    storage = app.state.storage
    assert storage.scheme == "S3"
    assert storage.location("TEST", 1, 1) == f"s3://{bucket}/results/test/1/1"
    # Local storage's routes are not there.
    response = await client.put("/api/storage/results/test/1/1/a.txt?expires=1&signature=x", content=b"x")
    assert response.status_code == 404


@pytest.fixture
def settings_overrides(s3_settings: dict[str, Any]) -> dict[str, Any]:
    """The app of this module's tests stores its files in the moto bucket."""
    return s3_settings
