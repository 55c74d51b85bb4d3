"""Result files end to end on local storage: a worker asks where to upload, PUTs each
file, reports; the job's owner lists the files and downloads them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from tests.callers import Caller
from tests.jobs.conftest import QUIET_SWEEPS, Clock, submit
from tests.jobs.helpers import Leased, claim_one, report

FILES = {"a.txt": b"first file\n", "dir/b.json": b'{"answer": 42}'}


def on_this_api(url: str) -> str:
    """A URL the API handed out (on API_DOMAIN), as a path for the test client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def upload_urls(
    client: httpx.AsyncClient, worker: Caller, leased: Leased, files: list[str]
) -> httpx.Response:
    return await client.post(
        f"/api/jobs/assignments/{leased.assignment_id}/uploads",
        json={"leaseToken": leased.token, "files": files},
        headers=worker.headers,
    )


async def run_with_files(
    client: httpx.AsyncClient, analyst: Caller, worker: Caller, files: dict[str, bytes]
) -> tuple[int, Leased]:
    job_id = await submit(client, analyst)
    leased = await claim_one(client, worker)
    response = await upload_urls(client, worker, leased, list(files))
    assert response.status_code == 200, response.text
    urls = response.json()["urls"]
    assert set(urls) == set(files)
    for path, body in files.items():
        put = await client.put(on_this_api(urls[path]), content=body)
        assert put.status_code == 200, put.text
    done = await report(client, worker, leased, resultPayload={})
    assert done.status_code == 200, done.text
    return job_id, leased


async def download(client: httpx.AsyncClient, who: Caller, job_id: int, **params: Any) -> httpx.Response:
    return await client.get(f"/api/jobs/{job_id}/download", params=params, headers=who.headers)


async def test_files_a_worker_uploads_are_downloaded_unchanged(
    client: httpx.AsyncClient, analyst: Caller, worker: Caller
) -> None:
    job_id, _ = await run_with_files(client, analyst, worker, FILES)

    response = await download(client, analyst, job_id)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["job"] == {"id": job_id, "type": "TEST", "status": "SUCCEEDED"}
    assert set(body["files"]) == set(FILES)
    for path, url in body["files"].items():
        assert url.startswith("http://test/api/storage/")
        got = await client.get(on_this_api(url))
        assert got.status_code == 200, got.text
        assert got.content == FILES[path]


async def test_the_upload_urls_name_the_assignments_storage_location(
    client: httpx.AsyncClient, analyst: Caller, worker: Caller
) -> None:
    await submit(client, analyst)
    leased = await claim_one(client, worker)

    urls = (await upload_urls(client, worker, leased, ["x/y.tif"])).json()["urls"]

    location = leased.storage_uri.removeprefix("local://")
    assert urlsplit(urls["x/y.tif"]).path == f"/api/storage/{location}/x/y.tif"


async def test_a_filter_prefix_narrows_the_files(
    client: httpx.AsyncClient, analyst: Caller, worker: Caller
) -> None:
    job_id, _ = await run_with_files(client, analyst, worker, FILES)

    response = await download(client, analyst, job_id, filterPrefix="dir/")

    assert set(response.json()["files"]) == {"dir/b.json"}


@pytest.mark.parametrize("settings_overrides", [{**QUIET_SWEEPS, "s3_max_files": 1}])
async def test_more_files_than_s3_max_files_is_400_saying_how_many(
    client: httpx.AsyncClient, analyst: Caller, worker: Caller
) -> None:
    job_id, _ = await run_with_files(client, analyst, worker, FILES)

    response = await download(client, analyst, job_id)

    assert response.status_code == 400, response.text
    assert "2 files" in response.json()["message"]


async def test_a_job_that_has_not_succeeded_has_nothing_to_download(
    client: httpx.AsyncClient, analyst: Caller, worker: Caller
) -> None:
    pending = await submit(client, analyst, id=1)
    failed = await submit(client, analyst, id=2)
    await claim_one(client, worker)  # the first
    running = await claim_one(client, worker)
    assert (await report(client, worker, running, "FAILED")).status_code == 200

    for job_id in (pending, failed):
        response = await download(client, analyst, job_id)
        assert response.status_code == 400, response.text


async def test_downloads_follow_the_jobs_read_access(
    app: FastAPI,
    client: httpx.AsyncClient,
    analyst: Caller,
    other_analyst: Caller,
    worker: Caller,
    admin: Caller,
) -> None:
    job_id, _ = await run_with_files(client, analyst, worker, FILES)

    assert (await download(client, other_analyst, job_id)).status_code == 404
    assert (await download(client, admin, job_id)).status_code == 200
    await submit(client, other_analyst)  # answered from the cache by the analyst's job
    assert (await download(client, other_analyst, job_id)).status_code == 200


async def test_uploads_need_the_current_lease(
    client: httpx.AsyncClient, analyst: Caller, worker: Caller, other_worker: Caller, clock: Clock
) -> None:
    await submit(client, analyst)
    leased = await claim_one(client, worker)

    foreign = await client.post(
        f"/api/jobs/assignments/{leased.assignment_id}/uploads",
        json={"files": ["a"]},
        headers=other_worker.headers,
    )
    assert foreign.status_code == 409, foreign.text
    clock.advance(30)
    expired = await upload_urls(client, worker, leased, ["a.txt"])
    assert expired.status_code == 409, expired.text


@pytest.mark.parametrize("path", ["../escape.txt", "/etc/passwd", "a/../../b", "a\\b"])
async def test_an_upload_path_that_would_leave_the_assignments_folder_is_400(
    client: httpx.AsyncClient, analyst: Caller, worker: Caller, path: str
) -> None:
    await submit(client, analyst)
    leased = await claim_one(client, worker)

    response = await upload_urls(client, worker, leased, [path])

    assert response.status_code == 400, response.text
