"""The worker's HTTP client against httpx.MockTransport: retries with backoff, the
lease errors, API keys, and logins kept fresh. No test waits: sleep is injected."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from reefguide.worker import (
    ApiError,
    ApiKey,
    ApiUnavailable,
    AuthenticationFailed,
    LeaseLost,
    Login,
    RetryPolicy,
    WorkerClient,
)
from reefguide.worker.auth import token_times
from tests.worker.fakes import Clock, Sleeps, jwt

API = "http://api.test/api"
HEARTBEAT_OK = {"cancelRequested": False, "expiresAt": "2026-11-22T07:46:00Z"}
CLAIMED = {
    "assignments": [
        {
            "assignment": {
                "id": 7,
                "job_id": 3,
                "attempt": 1,
                "created_at": "2026-11-22T07:45:29Z",
                "expires_at": "2026-11-22T07:45:59Z",
                "storage_uri": "local://results/test/3/1",
                "leaseToken": "lease-7",
                "worker_id": None,
            },
            "job": {"id": 3, "type": "TEST", "status": "IN_PROGRESS", "input_payload": {"id": 1}},
        }
    ]
}

Route = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport that answers with `route` and keeps every request."""

    def __init__(self, route: Route) -> None:
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []
        self._route = route

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(await request.aread())
        self.requests.append(request)
        return self._route(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def paths(self) -> list[str]:
        return [request.url.path for request in self.requests]

    def json(self, index: int) -> Any:
        return json.loads(self.bodies[index])


def client_for(
    recorder: Recorder,
    credentials: ApiKey | Login | None = None,
    *,
    sleeps: Sleeps | None = None,
    clock: Clock | None = None,
    retry: RetryPolicy | None = None,
    draw: float = 1.0,
) -> WorkerClient:
    return WorkerClient(
        API,
        credentials or ApiKey("rg_key"),
        transport=recorder.transport(),
        retry=retry or RetryPolicy(),
        sleep=sleeps or Sleeps(),
        clock=clock or Clock(),
        draw=lambda: draw,
    )


def answers(*responses: httpx.Response | Exception) -> Route:
    """Answer with each response (or raise each exception) in turn; then the last again."""
    queue = list(responses)

    def route(request: httpx.Request) -> httpx.Response:
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    return route


# Retries.


async def test_a_5xx_is_retried_until_the_request_succeeds() -> None:
    recorder = Recorder(answers(httpx.Response(503), httpx.Response(502), httpx.Response(200, json=CLAIMED)))
    async with client_for(recorder) as client:
        claimed = await client.claim(["TEST"])
    assert [item.assignment.lease_token for item in claimed] == ["lease-7"]
    assert len(recorder.requests) == 3


async def test_network_errors_are_retried() -> None:
    recorder = Recorder(
        answers(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.Response(200, json=CLAIMED))
    )
    async with client_for(recorder) as client:
        assert len(await client.claim(["TEST"])) == 1
    assert len(recorder.requests) == 3


async def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    sleeps = Sleeps()
    recorder = Recorder(answers(httpx.Response(500)))
    policy = RetryPolicy(attempts=8, base_seconds=0.5, cap_seconds=4.0)
    async with client_for(recorder, sleeps=sleeps, retry=policy, draw=1.0) as client:
        with pytest.raises(ApiUnavailable):
            await client.claim(["TEST"])
    assert sleeps.delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]


async def test_backoff_is_fully_jittered_but_never_zero() -> None:
    policy = RetryPolicy(base_seconds=1.0, cap_seconds=30.0, floor_seconds=0.05)
    assert policy.delay(3, lambda: 0.5) == 2.0  # half of the 4 s window
    assert policy.delay(3, lambda: 0.0) == 0.05
    assert policy.delay(10_000, lambda: 1.0) == 30.0


async def test_used_up_retries_raise_api_unavailable_naming_the_last_cause() -> None:
    recorder = Recorder(answers(httpx.ConnectError("connection refused")))
    async with client_for(recorder, retry=RetryPolicy(attempts=4)) as client:
        with pytest.raises(ApiUnavailable, match="connection refused"):
            await client.claim(["TEST"])
    assert len(recorder.requests) == 4


async def test_retry_after_is_honoured_up_to_the_cap() -> None:
    sleeps = Sleeps()
    recorder = Recorder(
        answers(
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(503, headers={"Retry-After": "3600"}),
            httpx.Response(200, json=CLAIMED),
        )
    )
    async with client_for(recorder, sleeps=sleeps, retry=RetryPolicy(cap_seconds=20), draw=0.0) as client:
        await client.claim(["TEST"])
    assert sleeps.delays == [7.0, 20.0]


async def test_a_4xx_is_not_retried() -> None:
    recorder = Recorder(answers(httpx.Response(400, json={"message": "Unknown job type NOPE"})))
    async with client_for(recorder) as client:
        with pytest.raises(ApiError, match="Unknown job type NOPE") as raised:
            await client.claim(["NOPE"])
    assert raised.value.status_code == 400
    assert len(recorder.requests) == 1


# The worker routes.


async def test_claim_sends_the_long_poll_body_and_waits_longer_than_it() -> None:
    recorder = Recorder(answers(httpx.Response(200, json={"assignments": []})))
    async with client_for(recorder) as client:
        assert await client.claim(["TEST", "ADRIA_MODEL_RUN"], limit=3, wait_seconds=20, worker_id="w1") == []
    request = recorder.requests[0]
    assert str(request.url) == f"{API}/jobs/claim"
    assert recorder.json(0) == {
        "jobTypes": ["TEST", "ADRIA_MODEL_RUN"],
        "max": 3,
        "waitSeconds": 20,
        "workerId": "w1",
    }
    assert request.extensions["timeout"]["read"] > 20


@pytest.mark.parametrize("status", [409, 404])
async def test_a_lease_route_answering_409_or_404_raises_lease_lost(status: int) -> None:
    recorder = Recorder(answers(httpx.Response(status, json={"message": "This assignment is not current"})))
    async with client_for(recorder) as client:
        with pytest.raises(LeaseLost):
            await client.heartbeat(7, "lease-7", progress=0.5, message="half")
        with pytest.raises(LeaseLost):
            await client.report(7, "lease-7", status="SUCCEEDED", result_payload={})
        with pytest.raises(LeaseLost):
            await client.release(7, "lease-7")
    assert len(recorder.requests) == 3


async def test_heartbeat_sends_the_lease_token_and_progress() -> None:
    recorder = Recorder(answers(httpx.Response(200, json={**HEARTBEAT_OK, "cancelRequested": True})))
    async with client_for(recorder) as client:
        answer = await client.heartbeat(7, "lease-7", progress=0.4, message="tiles 4/10")
    assert answer.cancel_requested is True
    assert recorder.paths() == ["/api/jobs/assignments/7/heartbeat"]
    assert recorder.json(0) == {"leaseToken": "lease-7", "progress": 0.4, "message": "tiles 4/10"}


async def test_a_failure_report_carries_the_error() -> None:
    recorder = Recorder(answers(httpx.Response(200, json={"job": {}})))
    async with client_for(recorder) as client:
        await client.report(7, "lease-7", status="FAILED", error="RuntimeError: boom")
    assert recorder.json(0) == {"leaseToken": "lease-7", "status": "FAILED", "error": "RuntimeError: boom"}


async def test_files_are_put_to_their_upload_urls_without_credentials(tmp_path: Path) -> None:
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "a.tif").write_bytes(b"x" * 3_000_000)
    (tmp_path / "summary.json").write_text('{"sites": 3}')

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/uploads"):
            files = json.loads(request.content)["files"]
            return httpx.Response(
                200, json={"urls": {f: f"http://store.test/{f}?signature=s" for f in files}}
            )
        return httpx.Response(200)

    recorder = Recorder(route)
    async with client_for(recorder) as client:
        await client.upload_files(7, "lease-7", tmp_path, ["maps/a.tif", "summary.json"])
    puts = {
        r.url.path: (r, body)
        for r, body in zip(recorder.requests, recorder.bodies, strict=True)
        if r.method == "PUT"
    }
    assert set(puts) == {"/maps/a.tif", "/summary.json"}
    request, body = puts["/maps/a.tif"]
    assert body == b"x" * 3_000_000
    assert request.headers["Content-Length"] == "3000000"
    assert "transfer-encoding" not in request.headers
    assert "authorization" not in request.headers
    assert "x-api-key" not in request.headers
    assert puts["/summary.json"][1] == b'{"sites": 3}'


async def test_a_failed_upload_is_retried_with_the_whole_file(tmp_path: Path) -> None:
    (tmp_path / "out.txt").write_bytes(b"hello")
    recorder = Recorder(answers(httpx.Response(503), httpx.Response(200)))
    async with client_for(recorder) as client:
        await client.upload_file("http://store.test/out.txt", tmp_path / "out.txt")
    assert recorder.bodies == [b"hello", b"hello"]


# API keys.


async def test_an_api_key_is_sent_as_x_api_key() -> None:
    recorder = Recorder(answers(httpx.Response(200, json={"assignments": []})))
    async with client_for(recorder, ApiKey("rg_secret")) as client:
        await client.claim(["TEST"])
    assert recorder.requests[0].headers["x-api-key"] == "rg_secret"
    assert "authorization" not in recorder.requests[0].headers


async def test_a_refused_api_key_raises_authentication_failed() -> None:
    recorder = Recorder(answers(httpx.Response(401, json={"message": "Invalid API key"})))
    async with client_for(recorder, ApiKey("rg_bad")) as client:
        with pytest.raises(AuthenticationFailed):
            await client.claim(["TEST"])
    assert len(recorder.requests) == 1


# Logins.


class AuthApi:
    """Login, refresh and claim routes, with tokens valid `lifetime` seconds from `clock`."""

    def __init__(self, clock: Clock, lifetime: float = 3600.0) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.issued = 0
        self.refresh_refused = False
        self.refused_tokens: set[str] = set()
        self.recorder = Recorder(self.route)

    def tokens(self) -> httpx.Response:
        self.issued += 1
        now = self.clock.now
        token = jwt(id=1, iat=int(now), exp=int(now + self.lifetime), n=self.issued)
        return httpx.Response(200, json={"token": token, "refreshToken": f"refresh-{self.issued}"})

    def route(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/auth/login":
            body = json.loads(request.content)
            if body["password"] != "worker-password-1":
                return httpx.Response(401, json={"message": "Invalid email or password"})
            return self.tokens()
        if request.url.path == "/api/auth/token":
            if self.refresh_refused:
                return httpx.Response(401, json={"message": "Refresh token reuse detected"})
            return self.tokens()
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token in self.refused_tokens:
            return httpx.Response(401, json={"message": "Invalid token"})
        return httpx.Response(200, json={"assignments": []})

    def calls(self) -> list[str]:
        return [path.removeprefix("/api/") for path in self.recorder.paths()]

    def bearer(self, index: int) -> str:
        return self.recorder.requests[index].headers["authorization"].removeprefix("Bearer ")


LOGIN = Login("worker@example.com", "worker-password-1")


async def test_a_login_is_made_once_and_its_token_sent_as_bearer() -> None:
    api = AuthApi(Clock())
    async with client_for(api.recorder, LOGIN, clock=api.clock) as client:
        await client.claim(["TEST"])
        await client.claim(["TEST"])
    assert api.calls() == ["auth/login", "jobs/claim", "jobs/claim"]
    assert api.recorder.json(0) == {"email": "worker@example.com", "password": "worker-password-1"}
    assert api.bearer(1) == api.bearer(2)


async def test_the_token_is_refreshed_when_less_than_a_minute_is_left() -> None:
    api = AuthApi(Clock(), lifetime=3600)
    async with client_for(api.recorder, LOGIN, clock=api.clock) as client:
        await client.claim(["TEST"])
        api.clock.now += 3600 - 61
        await client.claim(["TEST"])
        api.clock.now += 2  # 59 s left
        await client.claim(["TEST"])
        await client.claim(["TEST"])
    assert api.calls() == ["auth/login", "jobs/claim", "jobs/claim", "auth/token", "jobs/claim", "jobs/claim"]
    assert api.recorder.json(3) == {"refreshToken": "refresh-1"}
    assert api.bearer(4) != api.bearer(2)


async def test_a_short_lived_token_is_refreshed_at_half_its_life_not_at_every_request() -> None:
    api = AuthApi(Clock(), lifetime=60)
    async with client_for(api.recorder, LOGIN, clock=api.clock) as client:
        await client.claim(["TEST"])
        await client.claim(["TEST"])
        api.clock.now += 31
        await client.claim(["TEST"])
    assert api.calls() == ["auth/login", "jobs/claim", "jobs/claim", "auth/token", "jobs/claim"]


async def test_a_refused_refresh_logs_in_again() -> None:
    api = AuthApi(Clock(), lifetime=3600)
    async with client_for(api.recorder, LOGIN, clock=api.clock) as client:
        await client.claim(["TEST"])
        api.clock.now += 3590
        api.refresh_refused = True
        await client.claim(["TEST"])
    assert api.calls() == ["auth/login", "jobs/claim", "auth/token", "auth/login", "jobs/claim"]


async def test_a_401_renews_the_token_and_sends_the_request_again() -> None:
    api = AuthApi(Clock())
    async with client_for(api.recorder, LOGIN, clock=api.clock) as client:
        await client.claim(["TEST"])
        api.refused_tokens.add(api.bearer(1))  # e.g. the API's keys were rotated
        await client.claim(["TEST"])
    assert api.calls() == ["auth/login", "jobs/claim", "jobs/claim", "auth/token", "jobs/claim"]


async def test_concurrent_requests_share_one_refresh() -> None:
    api = AuthApi(Clock(), lifetime=3600)
    async with client_for(api.recorder, LOGIN, clock=api.clock) as client:
        await client.claim(["TEST"])
        api.clock.now += 3590
        await asyncio.gather(*(client.claim(["TEST"]) for _ in range(5)))
    assert api.calls().count("auth/token") == 1
    assert api.calls().count("auth/login") == 1


async def test_wrong_credentials_raise_authentication_failed_without_retrying() -> None:
    api = AuthApi(Clock())
    async with client_for(api.recorder, Login("worker@example.com", "wrong"), clock=api.clock) as client:
        with pytest.raises(AuthenticationFailed, match=r"worker@example\.com"):
            await client.claim(["TEST"])
    assert api.calls() == ["auth/login"]


async def test_login_is_retried_while_the_api_is_unreachable() -> None:
    api = AuthApi(Clock())
    failures = [httpx.ConnectError("refused"), httpx.ConnectError("refused")]

    def route(request: httpx.Request) -> httpx.Response:
        if failures:
            raise failures.pop()
        return api.route(request)

    recorder = Recorder(route)
    async with client_for(recorder, LOGIN, clock=api.clock) as client:
        await client.claim(["TEST"])
    assert [path.removeprefix("/api/") for path in recorder.paths()] == [
        "auth/login",
        "auth/login",
        "auth/login",
        "jobs/claim",
    ]


def test_token_times_are_read_without_verifying() -> None:
    assert token_times(jwt(iat=100, exp=3700)) == (100.0, 3700.0)
    assert token_times("not-a-jwt") == (None, None)
    assert token_times(jwt(exp="soon")) == (None, None)


def test_credentials_do_not_show_secrets_in_their_repr() -> None:
    assert "worker-password-1" not in repr(LOGIN)
    assert "rg_secret" not in repr(ApiKey("rg_secret"))
