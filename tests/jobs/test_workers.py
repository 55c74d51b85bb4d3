"""The worker routes one at a time: poll and assign (the original's protocol), claim,
and reporting results one by one or in a batch."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from reefguide.jobs.schemas import ClaimOut
from tests.callers import Caller
from tests.jobs.conftest import QUIET_SWEEPS, Clock, submit
from tests.jobs.helpers import (
    Abandoned,
    Leased,
    assign,
    at,
    cancel,
    claim,
    claim_one,
    claim_then_roll_back,
    insert_jobs,
    report,
    set_priority,
    stored_assignments,
    stored_job,
    stored_results,
)

TEST_MAX_RUN = timedelta(minutes=60)


async def poll(client: httpx.AsyncClient, worker: Caller, **params: Any) -> list[int]:
    response = await client.get("/api/jobs/poll", params=params, headers=worker.headers)
    assert response.status_code == 200, response.text
    return [job["id"] for job in response.json()["jobs"]]


async def test_poll_lists_ten_pending_jobs_by_priority_then_age(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller, clock: Clock
) -> None:
    ids = await insert_jobs(app, analyst.user, 13, clock())
    await set_priority(app, ids[-1], 5)
    assert (await claim_one(client, worker)).job_id == ids[-1]  # no longer pending
    await set_priority(app, ids[-2], 5)

    assert await poll(client, worker) == [ids[-2], *ids[:9]]
    assert await poll(client, worker, limit=3) == [ids[-2], *ids[:2]]


async def test_poll_filters_by_job_type(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller, clock: Clock
) -> None:
    await insert_jobs(app, analyst.user, 2, clock())
    (other,) = await insert_jobs(app, analyst.user, 1, clock(), "DATA_SPECIFICATION_UPDATE")

    assert await poll(client, worker, jobType="DATA_SPECIFICATION_UPDATE") == [other]
    assert len(await poll(client, worker)) == 3


async def test_poll_of_an_unknown_type_is_400(client: httpx.AsyncClient, worker: Caller) -> None:
    response = await client.get("/api/jobs/poll", params={"jobType": "NOPE"}, headers=worker.headers)
    assert response.status_code == 400, response.text


async def test_assign_leases_the_job_for_its_types_whole_run_time(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller, clock: Clock
) -> None:
    job_id = await submit(client, analyst)

    response = await client.post(
        "/api/jobs/assign",
        json={"jobId": job_id, "ecsTaskArn": "arn:task", "ecsClusterArn": "arn:cluster"},
        headers=worker.headers,
    )

    assert response.status_code == 200, response.text
    assignment = response.json()["assignment"]
    assert assignment["leaseToken"]
    assert (assignment["job_id"], assignment["attempt"]) == (job_id, 1)
    assert (assignment["ecs_task_arn"], assignment["ecs_cluster_arn"]) == ("arn:task", "arn:cluster")
    assert assignment["storage_uri"] == f"local://results/test/{job_id}/1"
    assert at(assignment["expires_at"]) == at(assignment["deadline"]) == clock() + TEST_MAX_RUN
    job = await stored_job(app, job_id)
    assert (job.status, job.attempt_count) == ("IN_PROGRESS", 1)


async def test_assigning_a_job_that_is_not_pending_is_409(
    client: httpx.AsyncClient, analyst: Caller, worker: Caller, other_worker: Caller
) -> None:
    running = await submit(client, analyst, id=1)
    cancelled = await submit(client, analyst, id=2)
    await assign(client, worker, running)
    assert (await cancel(client, analyst, cancelled)).status_code == 200

    for job_id in (running, cancelled):
        response = await client.post("/api/jobs/assign", json={"jobId": job_id}, headers=other_worker.headers)
        assert response.status_code == 409, response.text
        assert response.json() == {"message": "Job is not available for assignment"}


async def test_assigning_a_missing_job_is_404(client: httpx.AsyncClient, worker: Caller) -> None:
    response = await client.post("/api/jobs/assign", json={"jobId": 424242}, headers=worker.headers)
    assert response.status_code == 404, response.text


async def test_claim_takes_up_to_max_jobs_of_the_types_asked_for(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller, clock: Clock
) -> None:
    ids = await insert_jobs(app, analyst.user, 4, clock())
    await insert_jobs(app, analyst.user, 2, clock(), "DATA_SPECIFICATION_UPDATE")
    await set_priority(app, ids[3], 1)

    response = await client.post(
        "/api/jobs/claim",
        json={"jobTypes": ["TEST"], "max": 3, "waitSeconds": 0, "workerId": "worker-a"},
        headers=worker.headers,
    )

    assert response.status_code == 200, response.text
    entries = response.json()["assignments"]
    assert [entry["job"]["id"] for entry in entries] == [ids[3], ids[0], ids[1]]
    for entry in entries:
        assignment, job = entry["assignment"], entry["job"]
        assert assignment["job_id"] == job["id"]
        assert (job["status"], job["attempt_count"]) == ("IN_PROGRESS", 1)
        assert assignment["worker_id"] == "worker-a"
        assert assignment["leaseToken"]
        assert at(assignment["expires_at"]) == clock() + timedelta(seconds=30)
        assert at(assignment["deadline"]) == clock() + TEST_MAX_RUN
    assert len({entry["assignment"]["leaseToken"] for entry in entries}) == 3
    assert [leased.job_id for leased in await claim(client, worker, max_jobs=10)] == [ids[2]]
    assert await claim(client, worker) == []


async def test_a_claims_answer_is_a_claim_out_with_the_rows_as_stored(
    client: httpx.AsyncClient, analyst: Caller, worker: Caller
) -> None:
    """The claim serialises its answer from the rows it wrote, without the models:
    it must read back as exactly the ClaimOut it declares, and say what was stored."""
    job_id = await submit(client, analyst, id=7)
    response = await client.post(
        "/api/jobs/claim",
        json={"jobTypes": ["TEST"], "workerId": "w-1", "ecsTaskArn": "arn:task", "ecsClusterArn": "arn:cl"},
        headers=worker.headers,
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert ClaimOut.model_validate(answer).model_dump(mode="json", by_alias=True) == answer
    (entry,) = answer["assignments"]

    stored = (await client.get(f"/api/jobs/{job_id}", headers=analyst.headers)).json()["job"]
    (assignment,) = stored.pop("assignments")
    stored.pop("result")
    assignment.pop("result")
    assert entry["job"] == stored
    assert entry["assignment"] == {**assignment, "leaseToken": entry["assignment"]["leaseToken"]}
    assert (assignment["worker_id"], assignment["ecs_task_arn"]) == ("w-1", "arn:task")


@pytest.mark.parametrize("settings_overrides", [{**QUIET_SWEEPS, "job_lease_seconds": 90}])
async def test_a_claims_lease_lasts_job_lease_seconds(
    client: httpx.AsyncClient, analyst: Caller, worker: Caller, clock: Clock
) -> None:
    await submit(client, analyst)
    leased = await claim_one(client, worker)
    assert leased.expires_at == clock() + timedelta(seconds=90)


async def test_a_claim_rolled_back_leaves_the_job_pending(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller, clock: Clock
) -> None:
    job_id = await submit(client, analyst)

    with pytest.raises(Abandoned):
        await claim_then_roll_back(app, worker, clock)

    job = await stored_job(app, job_id)
    assert (job.status, job.attempt_count) == ("PENDING", 0)
    assert await stored_assignments(app, job_id) == []
    assert (await claim_one(client, worker)).job_id == job_id


async def test_claiming_an_unknown_type_is_400(client: httpx.AsyncClient, worker: Caller) -> None:
    response = await client.post("/api/jobs/claim", json={"jobTypes": ["NOPE"]}, headers=worker.headers)
    assert response.status_code == 400, response.text


async def test_a_success_stores_the_result_and_ends_the_lease(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller, clock: Clock
) -> None:
    job_id = await submit(client, analyst)
    leased = await claim_one(client, worker)
    clock.advance(5)

    response = await report(client, worker, leased, resultPayload={"note": "extra fields are kept"})

    assert response.status_code == 200, response.text
    assert response.json()["job"]["status"] == "SUCCEEDED"
    (assignment,) = await stored_assignments(app, job_id)
    assert (assignment.outcome, assignment.completed_at) == ("SUCCEEDED", clock())
    (result,) = await stored_results(app, job_id)
    assert result.result_payload == {"note": "extra fields are kept"}
    assert (result.assignment_id, result.cache_valid) == (leased.assignment_id, True)
    assert result.storage_uri == leased.storage_uri


async def test_a_result_failing_the_types_result_schema_is_400_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller
) -> None:
    job_id = await submit(
        client, analyst, "SUITABILITY_ASSESSMENT", region="Cairns", reef_type="x", x_dist=1, y_dist=2
    )
    leased = await claim_one(client, worker, types=["SUITABILITY_ASSESSMENT"])

    response = await report(client, worker, leased, resultPayload={"geojson": "wrong name"})

    assert response.status_code == 400, response.text
    assert "resultPayload.geojson_path" in [error["field"] for error in response.json()["errors"]]
    assert (await stored_job(app, job_id)).status == "IN_PROGRESS"
    assert [a.completed_at for a in await stored_assignments(app, job_id)] == [None]
    assert await stored_results(app, job_id) == []
    fixed = await report(client, worker, leased, resultPayload={"geojson_path": "s3://x/y.geojson"})
    assert fixed.status_code == 200, fixed.text


async def test_a_failure_ends_the_job_failed_with_the_error(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller
) -> None:
    job_id = await submit(client, analyst)
    leased = await claim_one(client, worker)

    response = await report(client, worker, leased, "FAILED", error="out of memory")

    assert response.status_code == 200, response.text
    assert response.json()["job"]["status"] == "FAILED"
    (assignment,) = await stored_assignments(app, job_id)
    assert (assignment.outcome, assignment.error) == ("FAILED", "out of memory")
    assert await stored_results(app, job_id) == []


async def test_results_are_reported_in_a_batch_each_answered_on_its_own(
    app: FastAPI,
    client: httpx.AsyncClient,
    analyst: Caller,
    worker: Caller,
    other_worker: Caller,
    clock: Clock,
) -> None:
    await insert_jobs(app, analyst.user, 3, clock())
    done, failed, invalid = await claim(client, worker, max_jobs=3)
    await submit(
        client, analyst, "SUITABILITY_ASSESSMENT", region="Cairns", reef_type="x", x_dist=1, y_dist=2
    )
    (suitability,) = await claim(client, worker, types=["SUITABILITY_ASSESSMENT"])
    foreign = await insert_jobs(app, analyst.user, 1, clock(), "DATA_SPECIFICATION_UPDATE")
    (theirs,) = await claim(client, other_worker, types=["DATA_SPECIFICATION_UPDATE"])
    assert theirs.job_id == foreign[0]

    def item(leased: Leased, status: str, **extra: Any) -> dict[str, Any]:
        return {"assignmentId": leased.assignment_id, "leaseToken": leased.token, "status": status, **extra}

    response = await client.post(
        "/api/jobs/assignments/results",
        json={
            "results": [
                item(done, "SUCCEEDED", resultPayload={}),
                item(failed, "FAILED", error="boom"),
                item(suitability, "SUCCEEDED", resultPayload={}),
                {"assignmentId": theirs.assignment_id, "status": "SUCCEEDED"},  # not this worker's
                item(done, "SUCCEEDED"),  # already reported
                {"assignmentId": 987654, "leaseToken": "x", "status": "SUCCEEDED"},
            ]
        },
        headers=worker.headers,
    )

    assert response.status_code == 200, response.text
    answers = [(r["assignmentId"], r["status"], r.get("jobStatus")) for r in response.json()["results"]]
    assert answers == [
        (done.assignment_id, 200, "SUCCEEDED"),
        (failed.assignment_id, 200, "FAILED"),
        (suitability.assignment_id, 400, None),
        (theirs.assignment_id, 409, None),
        (done.assignment_id, 409, None),
        (987654, 404, None),
    ]
    assert (await stored_job(app, invalid.job_id)).status == "IN_PROGRESS"
    assert (await stored_job(app, suitability.job_id)).status == "IN_PROGRESS"
    assert (await stored_job(app, theirs.job_id)).status == "IN_PROGRESS"
    assert len(await stored_results(app, done.job_id)) == 1
