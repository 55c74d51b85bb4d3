"""`job:update`: every state change and heartbeat reaches the job's owner, admins
and the users the cache answered with the job; nobody else, and each socket once."""

from __future__ import annotations

from datetime import datetime

import httpx

from tests.callers import Caller
from tests.jobs.conftest import submit
from tests.jobs.helpers import claim_one, heartbeat, report
from tests.realtime.conftest import Connect, JobUpdate, Listener, token_auth


def final(job_id: int, status: str = "SUCCEEDED") -> object:
    return lambda update: update["jobId"] == job_id and update["status"] == status


async def run_job(client: httpx.AsyncClient, worker: Caller) -> int:
    """A worker claims the next TEST job, reports progress once, and succeeds."""
    leased = await claim_one(client, worker)
    beat = await heartbeat(client, worker, leased, progress=0.5, message="halfway")
    assert beat.status_code == 200, beat.text
    assert (await report(client, worker, leased, resultPayload={})).status_code == 200
    return leased.job_id


async def heard_nothing_of(listener: Listener, who: Caller, client: httpx.AsyncClient, job_id: int) -> bool:
    """True when `listener` heard nothing of `job_id`. Its user submits a job of their
    own first and waits to hear of it: updates are sent in order, so one about
    `job_id` would have arrived before it."""
    own = await submit(client, who, id=987654)
    await listener.wait_for(lambda update: update["jobId"] == own)
    return listener.of_job(job_id) == []


def seen(updates: list[JobUpdate]) -> list[tuple[str, float | None, str | None]]:
    return [(update["status"], update["progress"], update["message"]) for update in updates]


async def test_the_owner_hears_each_change_and_the_progress_of_a_heartbeat(
    client: httpx.AsyncClient, connect: Connect, analyst: Caller, worker: Caller
) -> None:
    owner = await connect(auth=token_auth(analyst))
    job_id = await submit(client, analyst)
    await run_job(client, worker)

    await owner.wait_for(final(job_id))
    assert seen(owner.of_job(job_id)) == [
        ("PENDING", None, None),
        ("IN_PROGRESS", None, None),
        ("IN_PROGRESS", 0.5, "halfway"),
        ("SUCCEEDED", None, None),
    ]
    first = owner.of_job(job_id)[0]
    assert set(first) == {"jobId", "type", "status", "progress", "message", "updatedAt"}
    assert first["type"] == "TEST"
    assert datetime.fromisoformat(first["updatedAt"]).utcoffset() is not None


async def test_another_analyst_hears_nothing_of_it(
    client: httpx.AsyncClient, connect: Connect, analyst: Caller, other_analyst: Caller, worker: Caller
) -> None:
    owner = await connect(auth=token_auth(analyst))
    other = await connect(auth=token_auth(other_analyst))
    job_id = await submit(client, analyst)
    await run_job(client, worker)
    await owner.wait_for(final(job_id))

    assert await heard_nothing_of(other, other_analyst, client, job_id)


async def test_an_admin_hears_every_job(
    client: httpx.AsyncClient, connect: Connect, analyst: Caller, admin: Caller, worker: Caller
) -> None:
    watcher = await connect(auth=token_auth(admin))
    job_id = await submit(client, analyst)
    await run_job(client, worker)

    await watcher.wait_for(final(job_id))
    assert [update["status"] for update in watcher.of_job(job_id)] == [
        "PENDING",
        "IN_PROGRESS",
        "IN_PROGRESS",
        "SUCCEEDED",
    ]


async def test_a_user_answered_from_the_cache_hears_the_job_they_were_given(
    client: httpx.AsyncClient,
    connect: Connect,
    analyst: Caller,
    other_analyst: Caller,
    third_analyst: Caller,
    worker: Caller,
) -> None:
    job_id = await submit(client, analyst, id=42)
    cached = await client.post(
        "/api/jobs", json={"type": "TEST", "inputPayload": {"id": 42}}, headers=other_analyst.headers
    )
    assert cached.json()["cached"] is True
    assert cached.json()["jobId"] == job_id
    requester = await connect(auth=token_auth(other_analyst))
    bystander = await connect(auth=token_auth(third_analyst))
    await run_job(client, worker)

    await requester.wait_for(final(job_id))
    assert seen(requester.of_job(job_id)) == [
        ("IN_PROGRESS", None, None),
        ("IN_PROGRESS", 0.5, "halfway"),
        ("SUCCEEDED", None, None),
    ]
    assert await heard_nothing_of(bystander, third_analyst, client, job_id)


async def test_a_socket_in_several_of_a_jobs_rooms_hears_each_update_once(
    client: httpx.AsyncClient, connect: Connect, admin: Caller, worker: Caller
) -> None:
    # The owner is an admin, and subscribes too: USER, ADMIN and JOB rooms.
    listener = await connect(auth=token_auth(admin))
    job_id = await submit(client, admin)
    assert (await listener.subscribe(job_id))["status"] == "PENDING"
    await run_job(client, worker)

    await listener.wait_for(final(job_id))
    assert [update["status"] for update in listener.of_job(job_id)] == [
        "PENDING",
        "IN_PROGRESS",
        "IN_PROGRESS",
        "SUCCEEDED",
    ]


async def test_every_connection_of_a_user_hears_it(
    client: httpx.AsyncClient, connect: Connect, analyst: Caller, worker: Caller
) -> None:
    tabs = [await connect(auth=token_auth(analyst)) for _ in range(2)]
    job_id = await submit(client, analyst)
    await run_job(client, worker)
    for tab in tabs:
        await tab.wait_for(final(job_id))
        assert len(tab.of_job(job_id)) == 4


async def test_a_cancel_is_heard(client: httpx.AsyncClient, connect: Connect, analyst: Caller) -> None:
    owner = await connect(auth=token_auth(analyst))
    job_id = await submit(client, analyst)
    cancelled = await client.post(f"/api/jobs/{job_id}/cancel", headers=analyst.headers)
    assert cancelled.status_code == 200, cancelled.text
    await owner.wait_for(final(job_id, "CANCELLED"))
