"""`job:subscribe {jobId}`: answered at once with the job's state for a job the
caller may read, so a client that connects late does not miss the end; an error
answer for any other."""

from __future__ import annotations

from datetime import datetime

import httpx

from tests.callers import Caller
from tests.jobs.conftest import submit
from tests.jobs.helpers import claim_one, heartbeat, report
from tests.realtime.conftest import Connect, token_auth


async def test_the_answer_is_the_jobs_current_state(
    client: httpx.AsyncClient, connect: Connect, analyst: Caller
) -> None:
    job_id = await submit(client, analyst)
    listener = await connect(auth=token_auth(analyst))

    answer = await listener.subscribe(job_id)

    job = (await client.get(f"/api/jobs/{job_id}", headers=analyst.headers)).json()["job"]
    assert answer == {
        "jobId": job_id,
        "type": "TEST",
        "status": "PENDING",
        "progress": None,
        "message": None,
        "updatedAt": answer["updatedAt"],
    }
    assert datetime.fromisoformat(answer["updatedAt"]) == datetime.fromisoformat(job["updated_at"])


async def test_a_running_jobs_answer_carries_its_last_progress(
    client: httpx.AsyncClient, connect: Connect, analyst: Caller, worker: Caller
) -> None:
    job_id = await submit(client, analyst)
    leased = await claim_one(client, worker)
    assert (await heartbeat(client, worker, leased, progress=0.25, message="tiling")).status_code == 200
    listener = await connect(auth=token_auth(analyst))

    answer = await listener.subscribe(job_id)

    assert (answer["status"], answer["progress"], answer["message"]) == ("IN_PROGRESS", 0.25, "tiling")


async def test_a_late_client_learns_the_end_it_missed(
    client: httpx.AsyncClient, connect: Connect, analyst: Caller, worker: Caller
) -> None:
    job_id = await submit(client, analyst)
    leased = await claim_one(client, worker)
    assert (await report(client, worker, leased, resultPayload={})).status_code == 200
    listener = await connect(auth=token_auth(analyst))

    answer = await listener.subscribe(job_id)

    assert (answer["status"], answer["progress"], answer["message"]) == ("SUCCEEDED", None, None)


async def test_later_changes_follow_the_answer(
    client: httpx.AsyncClient, connect: Connect, analyst: Caller, worker: Caller
) -> None:
    job_id = await submit(client, analyst)
    listener = await connect(auth=token_auth(analyst))
    assert (await listener.subscribe(job_id))["status"] == "PENDING"
    leased = await claim_one(client, worker)
    assert (await heartbeat(client, worker, leased, progress=0.75)).status_code == 200

    update = await listener.wait_for(lambda update: update["progress"] == 0.75)
    assert (update["jobId"], update["status"]) == (job_id, "IN_PROGRESS")


async def test_someone_elses_job_is_not_found(
    client: httpx.AsyncClient, connect: Connect, analyst: Caller, other_analyst: Caller, worker: Caller
) -> None:
    job_id = await submit(client, analyst)
    listener = await connect(auth=token_auth(other_analyst))

    assert await listener.subscribe(job_id) == {"error": "Job not found"}

    # Not in the job's room either: its next change reaches the owner, not this socket.
    owner = await connect(auth=token_auth(analyst))
    await claim_one(client, worker)
    await owner.wait_for(lambda update: update["status"] == "IN_PROGRESS")
    own = await submit(client, other_analyst, id=77)
    await listener.wait_for(lambda update: update["jobId"] == own)
    assert listener.of_job(job_id) == []


async def test_a_job_that_does_not_exist_is_not_found(connect: Connect, analyst: Caller) -> None:
    listener = await connect(auth=token_auth(analyst))
    assert await listener.subscribe(999_999) == {"error": "Job not found"}


async def test_an_admin_and_a_cache_hit_requester_may_subscribe(
    client: httpx.AsyncClient, connect: Connect, analyst: Caller, other_analyst: Caller, admin: Caller
) -> None:
    job_id = await submit(client, analyst, id=5)
    assert (await submit(client, other_analyst, id=5)) == job_id  # answered from the cache
    for who in (admin, other_analyst):
        listener = await connect(auth=token_auth(who))
        assert (await listener.subscribe(job_id))["jobId"] == job_id


async def test_a_malformed_request_gets_an_error_answer(connect: Connect, analyst: Caller) -> None:
    listener = await connect(auth=token_auth(analyst))
    for job_id in ("1", None, 1.5, True):
        assert await listener.subscribe(job_id) == {"error": "Expected {jobId: <integer>}"}
