"""One job from submission to result, through the routes a user and a worker call."""

from __future__ import annotations

import httpx

from tests.callers import Caller
from tests.jobs.conftest import submit


async def test_a_job_goes_from_submission_to_result(
    client: httpx.AsyncClient, analyst: Caller, worker: Caller
) -> None:
    job_id = await submit(client, analyst, id=7)

    claimed = await client.post("/api/jobs/claim", json={"jobTypes": ["TEST"]}, headers=worker.headers)
    assert claimed.status_code == 200, claimed.text
    (entry,) = claimed.json()["assignments"]
    assert entry["job"]["id"] == job_id
    assert entry["job"]["input_payload"] == {"id": 7, "durationSeconds": 0}
    assignment = entry["assignment"]
    token = assignment["leaseToken"]

    beat = await client.post(
        f"/api/jobs/assignments/{assignment['id']}/heartbeat",
        json={"leaseToken": token, "progress": 0.5, "message": "halfway"},
        headers=worker.headers,
    )
    assert beat.status_code == 200, beat.text
    assert beat.json()["cancelRequested"] is False

    running = (await client.get(f"/api/jobs/{job_id}", headers=analyst.headers)).json()["job"]
    assert running["status"] == "IN_PROGRESS"
    assert running["assignments"][0]["progress"] == 0.5
    assert running["assignments"][0]["message"] == "halfway"

    done = await client.post(
        f"/api/jobs/assignments/{assignment['id']}/result",
        json={"leaseToken": token, "status": "SUCCEEDED", "resultPayload": {}},
        headers=worker.headers,
    )
    assert done.status_code == 200, done.text
    job = (await client.get(f"/api/jobs/{job_id}", headers=analyst.headers)).json()["job"]
    assert job["status"] == "SUCCEEDED"
    assert job["result"]["result_payload"] == {}

    again = await client.post(
        f"/api/jobs/assignments/{assignment['id']}/result",
        json={"leaseToken": token, "status": "SUCCEEDED"},
        headers=worker.headers,
    )
    assert again.status_code == 409

    cached = await client.post(
        "/api/jobs", json={"type": "TEST", "inputPayload": {"id": 7}}, headers=analyst.headers
    )
    assert cached.json()["cached"] is True
    assert cached.json()["jobId"] == job_id
