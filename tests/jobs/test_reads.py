"""Reading jobs and requests: lists, filters, pages, and who may read which job."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from reefguide.users.models import Role
from tests.callers import Caller, caller
from tests.jobs.conftest import Clock, submit
from tests.jobs.helpers import cancel, claim_one, report


async def listed(client: httpx.AsyncClient, who: Caller, path: str = "/api/jobs", **params: Any) -> Any:
    response = await client.get(path, params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


def ids(body: dict[str, Any], key: str = "jobs") -> list[int]:
    return [item["job_id"] if key == "jobRequests" else item["id"] for item in body[key]]


async def test_an_analyst_lists_only_their_own_jobs(
    client: httpx.AsyncClient, analyst: Caller, other_analyst: Caller
) -> None:
    mine = [await submit(client, analyst, id=n) for n in (1, 2)]
    await submit(client, other_analyst, id=3)

    for path in ("/api/jobs", "/api/jobs/mine"):
        body = await listed(client, analyst, path)
        assert sorted(ids(body)) == mine
        assert body["total"] == 2


async def test_the_status_filter_takes_a_comma_separated_list(
    client: httpx.AsyncClient, analyst: Caller, worker: Caller
) -> None:
    running, cancelled, pending = [await submit(client, analyst, id=n) for n in (1, 2, 3)]
    assert (await claim_one(client, worker)).job_id == running
    assert (await cancel(client, analyst, cancelled)).status_code == 200

    for path in ("/api/jobs", "/api/jobs/mine"):
        live = await listed(client, analyst, path, status="PENDING,IN_PROGRESS")
        assert sorted(ids(live)) == [running, pending]
        assert live["total"] == 2
        assert ids(await listed(client, analyst, path, status="cancelled")) == [cancelled]
        assert ids(await listed(client, analyst, path, status="SUCCEEDED")) == []


async def test_an_unknown_status_is_400(client: httpx.AsyncClient, analyst: Caller) -> None:
    for path in ("/api/jobs", "/api/jobs/mine"):
        response = await client.get(path, params={"status": "PENDING,DONE"}, headers=analyst.headers)
        assert response.status_code == 400, response.text
        assert "DONE" in response.json()["message"]
        assert [error["field"] for error in response.json()["errors"]] == ["status"]


async def test_asking_for_another_users_jobs_is_403(
    client: httpx.AsyncClient, analyst: Caller, other_analyst: Caller
) -> None:
    job_id = await submit(client, analyst)

    response = await client.get(
        "/api/jobs", params={"userId": analyst.user.id}, headers=other_analyst.headers
    )
    assert response.status_code == 403, response.text
    assert ids(await listed(client, analyst, userId=analyst.user.id)) == [job_id]


async def test_an_admin_sees_everyones_jobs_or_one_users(
    client: httpx.AsyncClient, analyst: Caller, other_analyst: Caller, admin: Caller
) -> None:
    first = await submit(client, analyst, id=1)
    second = await submit(client, other_analyst, id=2)

    everyone = await listed(client, admin)
    assert sorted(ids(everyone)) == [first, second]
    assert everyone["total"] == 2
    assert ids(await listed(client, admin, userId=other_analyst.user.id)) == [second]
    assert ids(await listed(client, admin, "/api/jobs/mine")) == []


async def test_lists_are_paged_with_the_total(
    client: httpx.AsyncClient, analyst: Caller, clock: Clock
) -> None:
    created = []
    for n in range(5):
        clock.advance(1)
        created.append(await submit(client, analyst, id=n))

    pages = [await listed(client, analyst, limit=2, offset=offset) for offset in (0, 2, 4)]

    assert [page["total"] for page in pages] == [5, 5, 5]
    assert [ids(page) for page in pages] == [created[4:2:-1], created[2:0:-1], created[:1]]


async def test_a_listed_job_carries_its_assignments_and_result(
    client: httpx.AsyncClient, analyst: Caller, worker: Caller
) -> None:
    job_id = await submit(client, analyst)
    leased = await claim_one(client, worker)
    assert (await report(client, worker, leased, resultPayload={"answer": 42})).status_code == 200

    (job,) = (await listed(client, analyst))["jobs"]

    assert job["id"] == job_id
    assert job["status"] == "SUCCEEDED"
    assert [a["id"] for a in job["assignments"]] == [leased.assignment_id]
    assert job["result"]["result_payload"] == {"answer": 42}
    assert "leaseToken" not in job["assignments"][0]


async def test_requests_list_the_callers_submissions_with_cache_hits(
    client: httpx.AsyncClient, analyst: Caller, other_analyst: Caller, admin: Caller
) -> None:
    job_id = await submit(client, analyst, id=1)
    await submit(client, other_analyst, id=1)  # a cache hit on the analyst's job
    other_job = await submit(client, other_analyst, id=2)

    own = await listed(client, other_analyst, "/api/jobs/requests")
    assert own["total"] == 2
    assert sorted((r["job_id"], r["cache_hit"]) for r in own["jobRequests"]) == [
        (job_id, True),
        (other_job, False),
    ]
    assert {r["user_id"] for r in own["jobRequests"]} == {other_analyst.user.id}
    everyone = await listed(client, admin, "/api/jobs/requests")
    assert everyone["total"] == 3


async def test_requests_are_paged_newest_first(
    client: httpx.AsyncClient, analyst: Caller, clock: Clock
) -> None:
    created = []
    for n in range(3):
        clock.advance(1)
        created.append(await submit(client, analyst, id=n))

    first = await listed(client, analyst, "/api/jobs/requests", limit=2)
    second = await listed(client, analyst, "/api/jobs/requests", limit=2, offset=2)

    assert (first["total"], second["total"]) == (3, 3)
    assert ids(first, "jobRequests") + ids(second, "jobRequests") == created[::-1]


async def test_a_job_is_readable_by_its_owner_an_admin_and_whoever_the_cache_answered(
    app: FastAPI,
    client: httpx.AsyncClient,
    analyst: Caller,
    other_analyst: Caller,
    admin: Caller,
) -> None:
    job_id = await submit(client, analyst, id=1)
    stranger = await caller(app, Role.ANALYST)
    await submit(client, other_analyst, id=1)  # answered from the cache

    for who in (analyst, admin, other_analyst):
        response = await client.get(f"/api/jobs/{job_id}", headers=who.headers)
        assert response.status_code == 200, response.text
        assert response.json()["job"]["id"] == job_id
    unreadable = await client.get(f"/api/jobs/{job_id}", headers=stranger.headers)
    assert unreadable.status_code == 404, unreadable.text


async def test_a_missing_job_is_404(client: httpx.AsyncClient, analyst: Caller, admin: Caller) -> None:
    for who in (analyst, admin):
        response = await client.get("/api/jobs/999999", headers=who.headers)
        assert response.status_code == 404, response.text
