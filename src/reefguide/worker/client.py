"""The worker's HTTP client: the worker routes of /api/jobs, authenticated, with retries.

Network errors, 5xx and 429 are retried with exponential backoff and full jitter
(capped, with a floor, so never a tight loop); 401 renews the credentials once;
409 and 404 on an assignment route mean the lease is gone (LeaseLost); any other
4xx is an ApiError. Sleep, clock and randomness are injectable for tests.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import structlog

from reefguide import __version__
from reefguide.worker.auth import Authenticator, Credentials, authenticator
from reefguide.worker.errors import ApiError, ApiUnavailable, AuthenticationFailed, LeaseLost
from reefguide.worker.schemas import ClaimAnswer, Claimed, HeartbeatAnswer, UploadsAnswer
from reefguide.worker.tracing import current_trace_context

log = structlog.get_logger(__name__)

Sleep = Callable[[float], Awaitable[None]]
# The server takes at most this many files in one uploads request.
UPLOAD_BATCH = 1000
UPLOAD_CHUNK_BYTES = 1024 * 1024
# Files PUT at once.
UPLOAD_CONCURRENCY = 4
# A claim's answer may take `waitSeconds`; the read timeout allows for it plus this.
CLAIM_TIMEOUT_MARGIN_SECONDS = 15.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a request is retried.

    The n-th retry waits a random time in [floor, min(cap, base·2^(n-1))] ("full
    jitter"), or what a 429/503's Retry-After asks for, up to the cap.
    """

    # Tries in all (1: no retry); None: until it works.
    attempts: int | None = 6
    base_seconds: float = 0.5
    cap_seconds: float = 30.0
    floor_seconds: float = 0.05

    def delay(self, failures: int, draw: Callable[[], float], retry_after: float | None = None) -> float:
        window = min(self.cap_seconds, self.base_seconds * 2.0 ** min(failures - 1, 30))
        delay = max(self.floor_seconds, draw() * window)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.cap_seconds))
        return delay

    def exhausted(self, failures: int) -> bool:
        return self.attempts is not None and failures >= self.attempts


DEFAULT_RETRY = RetryPolicy()
# A heartbeat that fails is sent again at the next beat anyway.
HEARTBEAT_RETRY = RetryPolicy(attempts=3, cap_seconds=5.0)
# A result is the work itself: worth minutes of patience.
REPORT_RETRY = RetryPolicy(attempts=12)
# Most successful results one request reports (the server takes up to 1,000).
BATCH_RESULTS = 100
NO_RETRY = RetryPolicy(attempts=1)

_RETRYABLE = frozenset({408, 425, 429})


def _retryable(status_code: int) -> bool:
    return status_code in _RETRYABLE or status_code >= 500


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return response.text[:500] or response.reason_phrase


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _lease_body(lease_token: str, **fields: Any) -> dict[str, Any]:
    return {"leaseToken": lease_token, **{name: value for name, value in fields.items() if value is not None}}


class SuccessReports:
    """Successful results reported together, as a database commits in groups: the
    first goes at once, alone (on the single-result route, in its job's trace); the
    ones that finish while a report is on its way wait for it and then go together,
    up to BATCH_RESULTS a request. A busy worker sends one request for many results;
    an idle one adds no delay. Each report still learns its own outcome."""

    def __init__(
        self,
        send_one: Callable[[int, Mapping[str, Any]], Awaitable[None]],
        send_many: Callable[[Sequence[tuple[int, Mapping[str, Any]]]], Awaitable[list[ApiError | None]]],
    ) -> None:
        self._send_one = send_one
        self._send_many = send_many
        self._waiting: list[tuple[int, Mapping[str, Any], asyncio.Future[None]]] = []
        self._sending: asyncio.Task[None] | None = None

    async def report(self, assignment_id: int, body: Mapping[str, Any]) -> None:
        outcome: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((assignment_id, body, outcome))
        if self._sending is None or self._sending.done():
            self._sending = asyncio.create_task(self._send_waiting())
        await outcome  # cancelled with its caller: then its result is dropped

    async def _send_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:BATCH_RESULTS], self._waiting[BATCH_RESULTS:]
            try:
                if len(batch) == 1:
                    assignment_id, body, _ = batch[0]
                    await self._send_one(assignment_id, body)
                    errors: list[ApiError | None] = [None]
                else:
                    errors = await self._send_many(
                        [(assignment_id, body) for assignment_id, body, _ in batch]
                    )
            except Exception as exc:  # the request failed as a whole: every report in it did
                errors = [exc] * len(batch)  # type: ignore[list-item]
            for (_, _, outcome), error in zip(batch, errors, strict=True):
                if outcome.done():
                    continue
                if error is None:
                    outcome.set_result(None)
                else:
                    outcome.set_exception(error)


class WorkerClient:
    """One worker's connection to the API (`api_url` ends in /api)."""

    def __init__(
        self,
        api_url: str,
        credentials: Credentials,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        timeout: float = 30.0,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.api_url + "/",
            transport=transport,
            timeout=timeout,
            headers={"User-Agent": f"reefguide-worker/{__version__}"},
        )
        self._retry = retry
        self._sleep = sleep
        self._draw = draw
        self._auth: Authenticator = authenticator(credentials, self._post_unauthenticated, clock)
        self._successes = SuccessReports(self._report_one, self._report_many)

    async def __aenter__(self) -> WorkerClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # The worker routes.

    async def claim(
        self,
        job_types: Sequence[str],
        *,
        limit: int = 1,
        wait_seconds: float = 0.0,
        worker_id: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> list[Claimed]:
        """Take up to `limit` jobs, waiting up to `wait_seconds` on the server for one."""
        body = {"jobTypes": list(job_types), "max": limit, "waitSeconds": wait_seconds, "workerId": worker_id}
        response = await self.request(
            "POST",
            "jobs/claim",
            json=body,
            retry=retry,
            timeout_seconds=wait_seconds + CLAIM_TIMEOUT_MARGIN_SECONDS,
        )
        return ClaimAnswer.model_validate(response.json()).assignments

    async def heartbeat(
        self,
        assignment_id: int,
        lease_token: str,
        *,
        progress: float | None = None,
        message: str | None = None,
        retry: RetryPolicy = HEARTBEAT_RETRY,
    ) -> HeartbeatAnswer:
        response = await self.request(
            "POST",
            f"jobs/assignments/{assignment_id}/heartbeat",
            json=_lease_body(lease_token, progress=progress, message=message),
            retry=retry,
            lease=True,
        )
        return HeartbeatAnswer.model_validate(response.json())

    async def upload_urls(self, assignment_id: int, lease_token: str, files: Sequence[str]) -> dict[str, str]:
        """Where to PUT each file (relative paths), asked for in batches the API accepts."""
        urls: dict[str, str] = {}
        for start in range(0, len(files), UPLOAD_BATCH):
            response = await self.request(
                "POST",
                f"jobs/assignments/{assignment_id}/uploads",
                json=_lease_body(lease_token, files=list(files[start : start + UPLOAD_BATCH])),
                lease=True,
            )
            urls.update(UploadsAnswer.model_validate(response.json()).urls)
        return urls

    async def upload_file(self, url: str, path: Path) -> None:
        """PUT the file's bytes to an upload URL (which carries its own permission:
        no credentials go with it), streamed with its length, as S3 wants."""
        size = (await asyncio.to_thread(path.stat)).st_size
        await self.request(
            "PUT",
            url,
            content=lambda: _file_chunks(path),
            headers={"Content-Length": str(size), "Content-Type": "application/octet-stream"},
            authenticated=False,
        )

    async def upload_files(
        self, assignment_id: int, lease_token: str, root: Path, files: Sequence[str]
    ) -> None:
        """Upload `files` (paths relative to `root`, with `/`) to the assignment's storage."""
        urls = await self.upload_urls(assignment_id, lease_token, files)
        slots = asyncio.Semaphore(UPLOAD_CONCURRENCY)

        async def put(name: str) -> None:
            async with slots:
                await self.upload_file(urls[name], root / name)

        try:
            async with asyncio.TaskGroup() as group:
                for name in files:
                    group.create_task(put(name))
        except ExceptionGroup as failed:
            # One error for the caller: a lost lease first, since it changes what to do next.
            errors = sorted(failed.exceptions, key=lambda error: not isinstance(error, LeaseLost))
            raise errors[0] from None

    async def report(
        self,
        assignment_id: int,
        lease_token: str,
        *,
        status: str,
        result_payload: Mapping[str, Any] | None = None,
        error: str | None = None,
        retryable: bool = False,
    ) -> None:
        """End the assignment: SUCCEEDED (with the result), FAILED (with the error) or CANCELLED.

        Successes go through `SuccessReports`: alone when the worker is not busy, in
        one request with the others that finished meanwhile when it is."""
        body = _lease_body(
            lease_token,
            status=status,
            resultPayload=None if result_payload is None else dict(result_payload),
            error=error,
            retryable=retryable or None,
        )
        if status == "SUCCEEDED" and error is None:
            await self._successes.report(assignment_id, body)
            return
        await self._report_one(assignment_id, body)

    async def _report_one(self, assignment_id: int, body: Mapping[str, Any]) -> None:
        await self.request(
            "POST", f"jobs/assignments/{assignment_id}/result", json=body, retry=REPORT_RETRY, lease=True
        )

    async def _report_many(self, items: Sequence[tuple[int, Mapping[str, Any]]]) -> list[ApiError | None]:
        """Successes in one request: for each, None (done) or the error the single route would raise."""
        body = {"results": [{"assignmentId": assignment_id, **fields} for assignment_id, fields in items]}
        response = await self.request("POST", "jobs/assignments/results", json=body, retry=REPORT_RETRY)
        outcomes = response.json()["results"]
        return [
            None
            if outcome["status"] < 400
            else self._error_of(
                outcome["status"], outcome.get("message") or "", authenticated=True, lease=True
            )
            for outcome in outcomes
        ]

    async def release(self, assignment_id: int, lease_token: str) -> None:
        """Give the job back (PENDING again, the attempt not counted)."""
        await self.request(
            "POST", f"jobs/assignments/{assignment_id}/release", json=_lease_body(lease_token), lease=True
        )

    # The machinery.

    async def request(
        self,
        method: str,
        url: str,
        *,
        json: Mapping[str, Any] | None = None,
        content: Callable[[], AsyncIterator[bytes]] | None = None,
        headers: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        timeout_seconds: float | None = None,
        authenticated: bool = True,
        lease: bool = False,
    ) -> httpx.Response:
        """Send a request until it gets a 2xx answer, retrying what may succeed later.

        `url` is relative to the API (`jobs/claim`) or absolute (an upload URL).
        `content` makes a fresh body for each try. With `lease`, 409 and 404 raise
        LeaseLost. Raises ApiError (4xx), AuthenticationFailed (401 after renewing,
        403) or ApiUnavailable (retries used up)."""
        policy = retry or self._retry
        failures = 0
        renewed = False
        # The API continues the trace of the job being run (nothing when none is). Never
        # to upload URLs: they are another system's, and signed.
        trace_headers = current_trace_context() if authenticated else {}
        while True:
            auth_headers = await self._auth.headers() if authenticated else {}
            cause: str
            retry_after: float | None = None
            try:
                response = await self._http.request(
                    method,
                    url,
                    json=json,
                    content=None if content is None else content(),
                    headers={**(headers or {}), **trace_headers, **auth_headers},
                    timeout=httpx.USE_CLIENT_DEFAULT if timeout_seconds is None else timeout_seconds,
                )
            except httpx.TransportError as exc:
                cause = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                status = response.status_code
                if status < 400:
                    return response
                if status == 401 and authenticated and not renewed:
                    renewed = True
                    await self._auth.renew(auth_headers)
                    continue
                if not _retryable(status):
                    raise self._error(response, authenticated=authenticated, lease=lease)
                cause = f"{status}: {_message(response)}"
                retry_after = _retry_after(response)
            failures += 1
            target = url.split("?", 1)[0]  # never an upload URL's signature
            if policy.exhausted(failures):
                raise ApiUnavailable(f"{method} {target} failed {failures} times; last: {cause}")
            delay = policy.delay(failures, self._draw, retry_after)
            log.warning(
                "API request failed; retrying", request=f"{method} {target}", cause=cause, retry_in=delay
            )
            await self._sleep(delay)

    @staticmethod
    def _error(response: httpx.Response, *, authenticated: bool, lease: bool) -> ApiError:
        return WorkerClient._error_of(
            response.status_code, _message(response), authenticated=authenticated, lease=lease
        )

    @staticmethod
    def _error_of(status: int, message: str, *, authenticated: bool, lease: bool) -> ApiError:
        if lease and status in (404, 409):
            return LeaseLost(status, message)
        if authenticated and status in (401, 403):
            return AuthenticationFailed(status, message)
        return ApiError(status, message)

    async def _post_unauthenticated(self, path: str, body: Mapping[str, Any]) -> Any:
        response = await self.request("POST", path, json=body, authenticated=False)
        return response.json()


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    file = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(file.read, UPLOAD_CHUNK_BYTES):
            yield chunk
    finally:
        file.close()
