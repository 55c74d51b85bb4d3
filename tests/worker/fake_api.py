"""A small in-memory API for the SDK's unit tests, served through httpx.MockTransport.

It speaks the worker routes' wire format with leases of `lease_seconds`, records
every heartbeat, upload and report, and lets a test cancel a job or take its lease
away. Claims answer at once (a test's worker polls quickly instead of long-polling).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from reefguide.worker import ApiKey, RetryPolicy, WorkerClient

API = "http://api.test/api"


@dataclass
class FakeJob:
    id: int
    type: str
    input_payload: dict[str, Any]
    status: str = "PENDING"
    assignment_id: int | None = None
    cancel_requested: bool = False
    lease_lost: bool = False
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)


class FakeApi:
    def __init__(self, lease_seconds: float = 0.3) -> None:
        self.lease_seconds = lease_seconds
        self.jobs: dict[int, FakeJob] = {}
        self.claims: list[dict[str, Any]] = []
        self.releases: list[int] = []
        self.running = 0
        self.most_running = 0
        # Claims answered 503 before the API "comes back".
        self.failing_claims = 0
        # What a PUT of a result file is answered.
        self.put_status = 200
        # The size of each batch of results reported together.
        self.batches: list[int] = []
        # A claim that finds nothing waits its `waitSeconds`, as the real API does.
        self.claims_wait = False

    def add(self, type_name: str = "TEST", **payload: Any) -> FakeJob:
        job = FakeJob(
            id=len(self.jobs) + 1, type=type_name, input_payload={"id": len(self.jobs) + 1, **payload}
        )
        self.jobs[job.id] = job
        return job

    def client(self) -> WorkerClient:
        return WorkerClient(
            API, ApiKey("rg_test"), transport=httpx.MockTransport(self.handle), retry=RetryPolicy(attempts=2)
        )

    async def handle(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        path = request.url.path
        if request.method == "PUT":
            if self.put_status != 200:
                return httpx.Response(self.put_status, json={"message": "The link has expired"})
            job_id, name = path.removeprefix("/files/").split("/", 1)
            self.jobs[int(job_id)].files[name] = body
            return httpx.Response(200)
        payload = json.loads(body)
        if path == "/api/jobs/claim":
            answer = self._claim(payload)
            if (
                self.claims_wait
                and answer.status_code == 200
                and not json.loads(answer.content)["assignments"]
            ):
                await asyncio.sleep(payload.get("waitSeconds", 0))
            return answer
        if path == "/api/jobs/assignments/results":
            self.batches.append(len(payload["results"]))
            outcomes = []
            for item in payload["results"]:
                fields = {name: value for name, value in item.items() if name != "assignmentId"}
                answer = self._assignment(item["assignmentId"], "result", fields)
                outcomes.append(
                    {
                        "assignmentId": item["assignmentId"],
                        "status": answer.status_code,
                        "message": json.loads(answer.content).get("message"),
                    }
                )
            return httpx.Response(200, json={"results": outcomes})
        return self._assignment(int(path.split("/")[4]), path.split("/")[5], payload)

    def _assignment(self, assignment_id: int, action: str, payload: dict[str, Any]) -> httpx.Response:
        job = next(job for job in self.jobs.values() if job.assignment_id == assignment_id)
        if job.lease_lost or job.status != "IN_PROGRESS" or payload["leaseToken"] != f"lease-{job.id}":
            return httpx.Response(409, json={"message": "This assignment is not current"})
        if action == "heartbeat":
            job.heartbeats.append(payload)
            expires = datetime.now(UTC) + timedelta(seconds=self.lease_seconds)
            return httpx.Response(
                200, json={"cancelRequested": job.cancel_requested, "expiresAt": expires.isoformat()}
            )
        if action == "uploads":
            urls = {name: f"http://files.test/files/{job.id}/{name}?signature=s" for name in payload["files"]}
            return httpx.Response(200, json={"urls": urls})
        if action == "result":
            job.reports.append(payload)
            job.status = payload["status"]
        elif action == "release":
            self.releases.append(job.id)
            job.status, job.assignment_id = "PENDING", None
        self.running -= 1
        return httpx.Response(200, json={"job": {"id": job.id, "status": job.status}})

    def _claim(self, payload: dict[str, Any]) -> httpx.Response:
        self.claims.append(payload)
        if self.failing_claims > 0:
            self.failing_claims -= 1
            return httpx.Response(503, json={"message": "Database unavailable"})
        taken = [
            job for job in self.jobs.values() if job.status == "PENDING" and job.type in payload["jobTypes"]
        ][: payload["max"]]
        now = datetime.now(UTC)
        answer = []
        for job in taken:
            job.status, job.assignment_id = "IN_PROGRESS", 100 + job.id
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            assignment = {
                "id": job.assignment_id,
                "job_id": job.id,
                "attempt": 1,
                "created_at": now.isoformat(),
                "expires_at": (now + timedelta(seconds=self.lease_seconds)).isoformat(),
                "storage_uri": f"local://results/test/{job.id}/1",
                "leaseToken": f"lease-{job.id}",
            }
            job_row = {
                "id": job.id,
                "type": job.type,
                "status": job.status,
                "input_payload": job.input_payload,
            }
            answer.append({"assignment": assignment, "job": job_row})
        return httpx.Response(200, json={"assignments": answer})
