"""The official JavaScript client (`socket.io-client` from npm, run with node), as a
browser would use it: connect with a token, subscribe, hear the job to its end."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.callers import Caller
from tests.jobs.conftest import submit
from tests.jobs.helpers import claim_one, heartbeat, report
from tests.realtime.conftest import WAIT_SECONDS, token_auth

JS_DIR = Path(__file__).parent / "js"
CLIENT = JS_DIR / "client.mjs"
NPM_CI_SECONDS = 300


@pytest.fixture
def backend() -> str:
    """What the JavaScript client sees does not depend on the database: SQLite only."""
    return "sqlite"


@pytest.fixture(scope="session")
def node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("the JavaScript client test needs node and npm on PATH")
    if not (JS_DIR / "node_modules" / "socket.io-client").is_dir():
        # CI runs this step itself (.ci/run); on a fresh clone the first run does it.
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(JS_DIR)],
            capture_output=True,
            text=True,
            timeout=NPM_CI_SECONDS,
            check=False,
        )
        if installed.returncode != 0:
            pytest.fail(f"npm ci --prefix {JS_DIR} failed:\n{installed.stderr[-3000:]}")
    return node


@dataclass
class NodeClient:
    process: asyncio.subprocess.Process
    lines: list[dict[str, Any]]

    async def next_line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        async with asyncio.timeout(WAIT_SECONDS):
            raw = await self.process.stdout.readline()
        assert raw, f"the client ended early: {self.lines}"
        line: dict[str, Any] = json.loads(raw)
        self.lines.append(line)
        return line

    async def until(self, event: str) -> dict[str, Any]:
        while (line := await self.next_line())["event"] != event:
            pass
        return line

    async def exit_code(self) -> int:
        assert self.process.stdout is not None
        async with asyncio.timeout(WAIT_SECONDS):
            for raw in (await self.process.stdout.read()).splitlines():
                self.lines.append(json.loads(raw))
            return await self.process.wait()


@pytest.fixture
async def run_client(node: str, live_url: str) -> AsyncIterator[Any]:
    processes: list[asyncio.subprocess.Process] = []

    async def start(token: str, job_id: int) -> NodeClient:
        process = await asyncio.create_subprocess_exec(
            node,
            str(CLIENT),
            live_url,
            token,
            str(job_id),
            str(int(WAIT_SECONDS * 2)),  # it stops by itself after this
            cwd=JS_DIR,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        processes.append(process)
        return NodeClient(process, [])

    yield start
    for process in processes:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_the_js_client_subscribes_and_hears_the_job_to_its_end(
    client: httpx.AsyncClient, run_client: Any, analyst: Caller, worker: Caller
) -> None:
    job_id = await submit(client, analyst)
    js = await run_client(token_auth(analyst)["token"], job_id)

    ack = await js.until("ack")
    assert ack["data"]["jobId"] == job_id
    assert ack["data"]["status"] == "PENDING"
    leased = await claim_one(client, worker)
    assert (await heartbeat(client, worker, leased, progress=0.5, message="halfway")).status_code == 200
    assert (await report(client, worker, leased, resultPayload={})).status_code == 200

    assert await js.exit_code() == 0
    updates = [line["data"] for line in js.lines if line["event"] == "job:update"]
    assert [(u["status"], u["progress"], u["message"]) for u in updates] == [
        ("IN_PROGRESS", None, None),
        ("IN_PROGRESS", 0.5, "halfway"),
        ("SUCCEEDED", None, None),
    ]
    assert {key for update in updates for key in update} == {
        "jobId",
        "type",
        "status",
        "progress",
        "message",
        "updatedAt",
    }


async def test_the_js_client_reads_why_it_was_refused(run_client: Any) -> None:
    js = await run_client("not-a-token", 1)

    assert await js.next_line() == {"event": "connect_error", "message": "Invalid token"}
    assert await js.exit_code() == 1
