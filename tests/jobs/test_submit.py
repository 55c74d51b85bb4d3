"""Submitting a job: validation, defaults, and the result cache (DESIGN, "Caching")."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.callers import Caller
from tests.jobs.conftest import QUIET_SWEEPS, Clock, submit
from tests.jobs.helpers import (
    VALID_INPUT,
    cancel,
    claim_one,
    report,
    stored_job,
    stored_requests,
    submit_uncached,
)


async def post_job(client: httpx.AsyncClient, who: Caller, type_: str, payload: Any) -> httpx.Response:
    return await client.post("/api/jobs", json={"type": type_, "inputPayload": payload}, headers=who.headers)


async def invalidate(client: httpx.AsyncClient, who: Caller, job_type: str) -> httpx.Response:
    return await client.post("/api/jobs/invalidate-cache", json={"jobType": job_type}, headers=who.headers)


def error_fields(response: httpx.Response) -> list[str]:
    return [error["field"] for error in response.json()["errors"]]


async def test_a_submission_creates_a_pending_job_and_logs_the_request(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller
) -> None:
    response = await post_job(client, analyst, "TEST", {"id": 1})

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"jobId", "cached", "requestId"}
    assert body["cached"] is False
    job = await stored_job(app, body["jobId"])
    assert (job.status, job.user_id, job.type, job.attempt_count) == ("PENDING", analyst.user.id, "TEST", 0)
    (request,) = await stored_requests(app, body["jobId"])
    assert (request.id, request.user_id, request.cache_hit) == (body["requestId"], analyst.user.id, False)


@pytest.mark.parametrize("type_", sorted(VALID_INPUT))
async def test_every_built_in_type_can_be_submitted(
    client: httpx.AsyncClient, analyst: Caller, type_: str
) -> None:
    response = await post_job(client, analyst, type_, VALID_INPUT[type_])
    assert response.status_code == 200, response.text


async def test_an_unknown_type_is_400_naming_the_type_field(
    client: httpx.AsyncClient, analyst: Caller
) -> None:
    response = await post_job(client, analyst, "NOT_A_TYPE", {"id": 1})

    assert response.status_code == 400, response.text
    assert "NOT_A_TYPE" in response.json()["message"]
    assert error_fields(response) == ["type"]


ADRIA_WITH_3_SCENARIOS = {**VALID_INPUT["ADRIA_MODEL_RUN"], "num_scenarios": 3}


@pytest.mark.parametrize(
    ("type_", "payload", "field"),
    [
        ("TEST", {"id": "one"}, "inputPayload.id"),
        ("TEST", {}, "inputPayload.id"),
        ("TEST", {"id": 1, "durationSeconds": -1}, "inputPayload.durationSeconds"),
        ("TEST", {"id": 1, "colour": "red"}, "inputPayload.colour"),
        ("SUITABILITY_ASSESSMENT", {"region": "Cairns", "reef_type": "x"}, "inputPayload.x_dist"),
        ("ADRIA_MODEL_RUN", ADRIA_WITH_3_SCENARIOS, "inputPayload.num_scenarios"),
    ],
)
async def test_a_payload_failing_the_types_schema_is_400_naming_the_field(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, type_: str, payload: dict[str, Any], field: str
) -> None:
    response = await post_job(client, analyst, type_, payload)

    assert response.status_code == 400, response.text
    assert response.json()["message"] == f"Invalid payload for job type {type_}"
    assert field in error_fields(response)


async def test_defaults_are_stored_and_hashed_with_the_payload(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller
) -> None:
    job_id = await submit(client, analyst, id=3)

    assert (await stored_job(app, job_id)).input_payload == {"id": 3, "durationSeconds": 0}
    spelled_out = (await post_job(client, analyst, "TEST", {"id": 3, "durationSeconds": 0})).json()
    assert (spelled_out["jobId"], spelled_out["cached"]) == (job_id, True)


async def test_an_identical_submission_is_answered_from_the_cache_for_any_user(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, other_analyst: Caller
) -> None:
    first = (await post_job(client, analyst, "TEST", {"id": 5})).json()
    second = (await post_job(client, other_analyst, "TEST", {"id": 5})).json()

    assert second["jobId"] == first["jobId"]
    assert second["cached"] is True
    assert second["requestId"] != first["requestId"]
    requests = await stored_requests(app, first["jobId"])
    assert [(r.user_id, r.cache_hit) for r in requests] == [
        (analyst.user.id, False),
        (other_analyst.user.id, True),
    ]
    assert (await stored_job(app, first["jobId"])).user_id == analyst.user.id


async def test_a_different_payload_is_a_miss(client: httpx.AsyncClient, analyst: Caller) -> None:
    first = (await post_job(client, analyst, "TEST", {"id": 1})).json()
    second = (await post_job(client, analyst, "TEST", {"id": 2})).json()

    assert second["jobId"] != first["jobId"]
    assert second["cached"] is False


async def test_the_cache_prefers_succeeded_then_in_progress_then_pending_newest_first(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller, admin: Caller, clock: Clock
) -> None:
    oldest = await submit_uncached(app, analyst.user, clock.advance(1))
    middle = await submit_uncached(app, analyst.user, clock.advance(1))
    newest = await submit_uncached(app, analyst.user, clock.advance(1))

    async def answer() -> int:
        body = (await post_job(client, analyst, "TEST", VALID_INPUT["TEST"])).json()
        assert body["cached"] is True
        job_id: int = body["jobId"]
        return job_id

    assert await answer() == newest  # all pending: the newest
    first_run = await claim_one(client, worker)
    assert first_run.job_id == oldest
    assert await answer() == oldest  # running beats pending
    second_run = await claim_one(client, worker)
    assert second_run.job_id == middle
    assert await answer() == middle  # the newest of the running ones
    done = await report(client, worker, first_run, "SUCCEEDED", resultPayload={})
    assert done.status_code == 200, done.text
    assert await answer() == oldest  # succeeded beats running

    invalidated = await invalidate(client, admin, "TEST")
    assert invalidated.status_code == 200, invalidated.text
    assert await answer() == middle  # a result no longer valid is passed over


async def fail(client: httpx.AsyncClient, worker: Caller, analyst: Caller, job_id: int) -> None:
    leased = await claim_one(client, worker)
    assert leased.job_id == job_id
    assert (await report(client, worker, leased, "FAILED", error="boom")).status_code == 200


async def cancel_pending(client: httpx.AsyncClient, worker: Caller, analyst: Caller, job_id: int) -> None:
    assert (await cancel(client, analyst, job_id)).status_code == 200


@pytest.mark.parametrize("end", [fail, cancel_pending], ids=["failed", "cancelled"])
async def test_a_failed_or_cancelled_job_never_answers_from_the_cache(
    client: httpx.AsyncClient, analyst: Caller, worker: Caller, end: Any
) -> None:
    job_id = await submit(client, analyst, id=9)
    await end(client, worker, analyst, job_id)

    again = (await post_job(client, analyst, "TEST", {"id": 9})).json()
    assert again["cached"] is False
    assert again["jobId"] != job_id


async def test_a_timed_out_job_never_answers_from_the_cache(
    client: httpx.AsyncClient, analyst: Caller, admin: Caller, clock: Clock
) -> None:
    job_id = await submit(client, analyst, id=9)
    clock.advance(3 * 3600)
    timed_out = await client.post(
        "/api/admin/timeout-jobs", json={"timeoutThresholdMinutes": 60}, headers=admin.headers
    )
    assert timed_out.json()["timedOutJobIds"] == [job_id]

    again = (await post_job(client, analyst, "TEST", {"id": 9})).json()
    assert again["cached"] is False
    assert again["jobId"] != job_id


@pytest.mark.parametrize("settings_overrides", [{**QUIET_SWEEPS, "disable_cache": True}])
async def test_disable_cache_makes_every_submission_a_new_job(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller
) -> None:
    first = (await post_job(client, analyst, "TEST", {"id": 1})).json()
    second = (await post_job(client, analyst, "TEST", {"id": 1})).json()

    assert second["jobId"] != first["jobId"]
    assert first["cached"] is second["cached"] is False
    for body in (first, second):
        assert [r.cache_hit for r in await stored_requests(app, body["jobId"])] == [False]


@pytest.mark.parametrize("settings_overrides", [{**QUIET_SWEEPS, "disable_specific_caches": ["TEST"]}])
async def test_disable_specific_caches_turns_off_only_those_types(
    client: httpx.AsyncClient, analyst: Caller
) -> None:
    test_jobs = [(await post_job(client, analyst, "TEST", {"id": 1})).json() for _ in range(2)]
    other = [(await post_job(client, analyst, "DATA_SPECIFICATION_UPDATE", {})).json() for _ in range(2)]

    assert test_jobs[0]["jobId"] != test_jobs[1]["jobId"]
    assert test_jobs[1]["cached"] is False
    assert other[0]["jobId"] == other[1]["jobId"]
    assert other[1]["cached"] is True


async def succeed(client: httpx.AsyncClient, analyst: Caller, worker: Caller, type_: str) -> int:
    job_id: int = (await post_job(client, analyst, type_, VALID_INPUT[type_])).json()["jobId"]
    leased = await claim_one(client, worker, types=[type_])
    assert leased.job_id == job_id
    assert (await report(client, worker, leased, "SUCCEEDED")).status_code == 200
    return job_id


async def test_invalidating_a_types_cache_makes_the_next_submission_a_miss(
    client: httpx.AsyncClient, analyst: Caller, worker: Caller, admin: Caller
) -> None:
    test_job = await succeed(client, analyst, worker, "TEST")
    other_job = await succeed(client, analyst, worker, "DATA_SPECIFICATION_UPDATE")

    response = await invalidate(client, admin, "TEST")

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"message", "invalidated"}
    assert body["invalidated"] == {"jobType": "TEST", "affectedResults": 1}
    miss = (await post_job(client, analyst, "TEST", VALID_INPUT["TEST"])).json()
    assert (miss["cached"], miss["jobId"] != test_job) == (False, True)
    hit = (await post_job(client, analyst, "DATA_SPECIFICATION_UPDATE", {})).json()
    assert (hit["cached"], hit["jobId"]) == (True, other_job)
    job = (await client.get(f"/api/jobs/{test_job}", headers=analyst.headers)).json()["job"]
    assert job["status"] == "SUCCEEDED"
    assert job["result"]["cache_valid"] is False


async def test_invalidating_again_affects_nothing(client: httpx.AsyncClient, admin: Caller) -> None:
    response = await invalidate(client, admin, "TEST")
    assert response.json()["invalidated"] == {"jobType": "TEST", "affectedResults": 0}


async def test_only_an_admin_may_invalidate_the_cache(client: httpx.AsyncClient, analyst: Caller) -> None:
    response = await invalidate(client, analyst, "TEST")
    assert response.status_code == 403, response.text


async def test_invalidating_an_unknown_type_is_400(client: httpx.AsyncClient, admin: Caller) -> None:
    response = await invalidate(client, admin, "NOPE")
    assert response.status_code == 400, response.text
