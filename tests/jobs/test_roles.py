"""Who may call which job route: users (ANALYST or ADMIN), workers (WORKER or ADMIN),
admins; a DEFAULT-only account may call none; no credentials is 401."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from reefguide.users.models import Role
from tests.callers import Caller, caller
from tests.jobs.conftest import submit
from tests.jobs.helpers import claim_one


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    body: dict[str, Any] | None = None


USER_ROUTES = [
    Route("POST", "/api/jobs", {"type": "TEST", "inputPayload": {"id": 1}}),
    Route("GET", "/api/jobs"),
    Route("GET", "/api/jobs/mine"),
    Route("GET", "/api/jobs/requests"),
    Route("GET", "/api/jobs/{job}"),
    Route("POST", "/api/jobs/{job}/cancel"),
    Route("GET", "/api/jobs/{job}/download"),
]
ADMIN_ROUTES = [
    Route("POST", "/api/jobs/invalidate-cache", {"jobType": "TEST"}),
    Route("POST", "/api/admin/timeout-jobs", {"timeoutThresholdMinutes": 60}),
]
WORKER_ROUTES = [
    Route("GET", "/api/jobs/poll"),
    Route("POST", "/api/jobs/assign", {"jobId": 1}),
    Route("POST", "/api/jobs/claim", {"jobTypes": ["TEST"]}),
    Route("POST", "/api/jobs/assignments/{assignment}/heartbeat", {"leaseToken": "{token}"}),
    Route(
        "POST", "/api/jobs/assignments/{assignment}/result", {"leaseToken": "{token}", "status": "SUCCEEDED"}
    ),
    Route("POST", "/api/jobs/assignments/{assignment}/uploads", {"leaseToken": "{token}", "files": ["a"]}),
    Route("POST", "/api/jobs/assignments/{assignment}/release", {"leaseToken": "{token}"}),
    Route(
        "POST",
        "/api/jobs/assignments/results",
        {"results": [{"assignmentId": "{assignment}", "leaseToken": "{token}", "status": "SUCCEEDED"}]},
    ),
]
ALL_ROUTES = USER_ROUTES + ADMIN_ROUTES + WORKER_ROUTES + [Route("GET", "/api/jobs/stats")]


def label(route: Route) -> str:
    return f"{route.method} {route.path}"


@dataclass(frozen=True)
class Scene:
    """A job held by a worker, so that every path and body names something real."""

    job_id: int
    assignment_id: int
    token: str

    def send(self, client: httpx.AsyncClient, route: Route, headers: dict[str, str]) -> Any:
        values = {"job": self.job_id, "assignment": self.assignment_id, "token": self.token}
        return client.request(
            route.method,
            route.path.format(**values),
            json=self._fill(route.body, values),
            headers=headers,
        )

    def _fill(self, body: Any, values: dict[str, Any]) -> Any:
        if isinstance(body, dict):
            return {key: self._fill(value, values) for key, value in body.items()}
        if isinstance(body, list):
            return [self._fill(value, values) for value in body]
        if body == "{assignment}":
            return values["assignment"]
        if isinstance(body, str):
            return body.format(**values)
        return body


@pytest.fixture
async def scene(client: httpx.AsyncClient, analyst: Caller, worker: Caller) -> Scene:
    job_id = await submit(client, analyst)
    leased = await claim_one(client, worker)
    return Scene(job_id=job_id, assignment_id=leased.assignment_id, token=leased.token)


async def statuses(
    client: httpx.AsyncClient, scene: Scene, routes: list[Route], headers: dict[str, str]
) -> dict[str, int]:
    return {label(route): (await scene.send(client, route, headers)).status_code for route in routes}


async def test_a_default_only_account_is_refused_everywhere(
    app: FastAPI, client: httpx.AsyncClient, scene: Scene
) -> None:
    nobody = await caller(app, Role.DEFAULT)
    got = await statuses(client, scene, ALL_ROUTES, nobody.headers)
    assert got == dict.fromkeys(got, 403)


async def test_a_worker_may_not_call_user_or_admin_routes(
    client: httpx.AsyncClient, scene: Scene, worker: Caller
) -> None:
    got = await statuses(client, scene, USER_ROUTES + ADMIN_ROUTES, worker.headers)
    assert got == dict.fromkeys(got, 403)


async def test_an_analyst_may_not_call_worker_or_admin_routes(
    client: httpx.AsyncClient, scene: Scene, analyst: Caller
) -> None:
    got = await statuses(client, scene, WORKER_ROUTES + ADMIN_ROUTES, analyst.headers)
    assert got == dict.fromkeys(got, 403)


async def test_every_role_but_default_may_read_the_stats(
    client: httpx.AsyncClient, scene: Scene, analyst: Caller, worker: Caller, admin: Caller
) -> None:
    for who in (analyst, worker, admin):
        response = await client.get("/api/jobs/stats", headers=who.headers)
        assert response.status_code == 200, response.text


async def test_no_credentials_is_401(client: httpx.AsyncClient, scene: Scene) -> None:
    got = await statuses(client, scene, ALL_ROUTES, {})
    assert got == dict.fromkeys(got, 401)
