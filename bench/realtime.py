"""Live job updates at scale (the benchmark of issue 6): how long after a worker
reports a job's result does its owner's Socket.IO client hear `job:update`
SUCCEEDED, with one API process and with two API processes sharing rooms through
Redis, both measured in the same run.

Each measurement (one configuration, one round):

1. C analysts (default 500, `--clients`) each connect one python-socketio
   AsyncClient (`transports=["websocket"]`, `auth: {token}`) to the listening
   process.
2. The analysts submit J TEST jobs (default 1,000, `--jobs`; job k belongs to
   analyst k mod C, so 2 each) through `POST /api/jobs`, with inputs never used
   before (no cache hit), 8 requests at a time; then every owner must hear PENDING.
3. A WORKER claims them 100 at a time (`POST /api/jobs/claim`), waits until every
   owner has heard IN_PROGRESS for the batch (so the claim's burst of updates is
   out of the way), and reports the batch's results one at a time
   (`POST /api/jobs/assignments/{id}/result`, SUCCEEDED), each right after the
   previous answer, or paced to `--rate` results per second.
4. The latency of a job is from just before its result request is sent to when its
   owner's client runs its `job:update` SUCCEEDED handler, both read from this
   process's clock (time.perf_counter). Every owner must hear it within `--wait`
   seconds of the last result, else it is counted missing; an update heard by a
   client that does not own the job, or heard twice, is counted too. SQL checks
   that every job SUCCEEDED after one attempt.

The configurations, on one database:

- 1 process: `reefguide serve`, no Redis; the clients, the submits and the worker
  all talk to it.
- 2 + Redis: two `serve` processes with REDIS_URL (default redis://127.0.0.1:6379/0,
  `--redis-url`) and a pub/sub channel of this run's own; the clients connect to A,
  the submits, claims and results go to B, so every update crosses Redis.

All three servers run for the whole bench (`--no-migrate --no-embedded-workers`,
TEST_MODE=true so rate limits are off, LOG_LEVEL=WARNING unless `--log-level`, one
JWT key pair given to all three so a token works on each). The analysts register
through `POST /api/auth/register` and log in through `POST /api/auth/login` once, at
the start; to make 500 of those quick, every server (and the CLI that creates the
worker) hashes passwords with Argon2id at time cost 1 and 1 MiB
(REEFGUIDE_ARGON2_TIME_COST / _MEMORY_KIB, as the tests do). Nothing measured hashes
a password. With `--rounds` above 1 the two configurations take turns, alternating
which goes first, and medians are reported.

Every client, the submits and the worker run in this one process, on uvloop: the
figures include the time this process takes to get round to a client's handler. To
show how much that is, an asyncio task measures the loop's lag (how late a 5 ms
sleep wakes) during the result phase; a lag p99 near the latency p99 means the
client side, not the server, is the limit. The CPU this process and the servers
used during the result phase is printed too.

    uv run python bench/realtime.py [--clients 500] [--jobs 1000] [--rounds 1] \\
        [--rate 0] [--wait 30] [--redis-url redis://127.0.0.1:6379/0]

A short run: `uv run python bench/realtime.py --clients 50 --jobs 100`.

It needs a PostgreSQL server where it may create a database (`--server-url`,
default postgresql://postgres@127.0.0.1:5432/postgres) and a Redis server. The
servers, PostgreSQL, Redis and this process share the machine, all on 127.0.0.1.
Every wait is bounded; the database, the data directories, the servers and the
connections are gone when it ends.
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    # Run as a script, bench/ comes first on the import path, where queue.py would
    # stand in for the standard library's `queue` (asyncio's executor, logging and
    # aiohttp import it): look there last. harness is still found.
    sys.path.append(sys.path.pop(0))

import argparse
import asyncio
import os
import resource
import secrets
import shlex
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import redis.asyncio
import socketio
import uvloop

from harness import (
    DEFAULT_SERVER_URL,
    JOB_TYPE,
    PASSWORD,
    SERVER_URL_ENV,
    WORKER_EMAIL,
    BenchError,
    bench_errors,
    cpu_seconds,
    create_user,
    free_port,
    fresh_database,
    percentile,
    server,
    wait_idle,
)
from reefguide.auth.keys import generate_key_pair

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
CLAIM_BATCH = 100  # the most one claim may take
HTTP_CONCURRENCY = 8  # registrations, logins and submits in flight at once
CONNECT_CONCURRENCY = 50  # Socket.IO handshakes in flight at once
HTTP_TIMEOUT_S = 60.0
CONNECT_TIMEOUT_S = 60.0
STEP_TIMEOUT_S = 60.0  # for every owner to hear PENDING, or a batch's IN_PROGRESS
LAG_INTERVAL_S = 0.005
SUCCEEDED = "SUCCEEDED"
# Environment a server must not inherit from the shell: each configuration sets its own.
OWN_SETTINGS = {"REDIS_URL", "REEFGUIDE_REDIS_CHANNEL", "DATABASE_URL", "JWT_PUBLIC_KEY", "JWT_KEY_ID"}


@dataclass(frozen=True)
class Config:
    name: str
    listen_url: str  # where the clients connect
    api_url: str  # where submits, claims and results go
    server_pids: tuple[int, ...]


@dataclass
class Heard:
    """Every `job:update` the clients of one measurement heard: by status, job and
    client, the moment its handler ran (the first time; repeats are counted)."""

    arrivals: dict[str, dict[int, dict[int, float]]] = field(default_factory=dict)
    repeats: int = 0
    disconnects: int = 0
    _goal: tuple[str, set[int], asyncio.Future[None]] | None = None

    def update(self, client: int, data: Any) -> None:
        now = time.perf_counter()
        status, job_id = data.get("status"), data.get("jobId")
        by_client = self.arrivals.setdefault(status, {}).setdefault(job_id, {})
        if client in by_client:
            self.repeats += 1
            return
        by_client[client] = now
        if self._goal is not None and self._goal[0] == status:
            _, remaining, reached = self._goal
            remaining.discard(job_id)
            if not remaining and not reached.done():
                reached.set_result(None)

    async def wait_for(self, status: str, job_ids: Iterable[int], within_s: float) -> set[int]:
        """Wait (at most `within_s`) until each job's `status` was heard; those not heard."""
        heard = self.arrivals.get(status, {})
        remaining = {job_id for job_id in job_ids if job_id not in heard}
        if remaining:
            reached = asyncio.get_running_loop().create_future()
            self._goal = (status, remaining, reached)
            try:
                with suppress(TimeoutError):
                    await asyncio.wait_for(reached, within_s)
            finally:
                self._goal = None
        return remaining


@dataclass(frozen=True)
class Measurement:
    config: str
    jobs: int
    latencies_ms: list[float]  # one per job its owner heard SUCCEEDED
    foreign: int  # updates heard by a client that does not own the job
    repeats: int
    disconnects: int
    connect_s: float  # all the clients' handshakes
    result_rtt_ms: list[float]  # the result requests' round trips
    after_answer_ms: list[float]  # from each result's answer to its update (negative: update first)
    results_s: float  # from the first result request to the last update heard
    lag_ms: list[float]  # how late this process's loop woke, during the result phase
    client_cpu_s: float
    server_cpu_s: float

    @property
    def missing(self) -> int:
        return self.jobs - len(self.latencies_ms)


# HTTP.


async def post(http: httpx.AsyncClient, path: str, body: dict[str, Any], token: str) -> dict[str, Any]:
    response = await http.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
    if response.status_code != 200:
        raise BenchError(f"POST {path}: {response.status_code} {response.text[:2000]}")
    answer: dict[str, Any] = response.json()
    return answer


async def bounded(concurrency: int, calls: Iterable[Any]) -> list[Any]:
    """Await the coroutines `calls`, at most `concurrency` at a time, in order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(call: Any) -> Any:
        async with gate:
            return await call

    return list(await asyncio.gather(*(one(call) for call in calls)))


async def analyst_tokens(base_url: str, count: int) -> list[str]:
    """`count` analysts registered (open registration makes them ANALYST) and logged in."""
    async with httpx.AsyncClient(base_url=base_url, timeout=HTTP_TIMEOUT_S) as http:

        async def account(index: int) -> str:
            body = {"email": f"analyst-{index:05d}@example.com", "password": PASSWORD}
            for path in ("/api/auth/register", "/api/auth/login"):
                response = await http.post(path, json=body)
                if response.status_code != 200:
                    raise BenchError(f"POST {path} {body['email']}: {response.status_code} {response.text}")
            token: str = response.json()["token"]
            return token

        return await bounded(HTTP_CONCURRENCY, (account(index) for index in range(count)))


async def login(base_url: str, email: str) -> str:
    async with httpx.AsyncClient(base_url=base_url, timeout=HTTP_TIMEOUT_S) as http:
        response = await http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    if response.status_code != 200:
        raise BenchError(f"login {email}: {response.status_code} {response.text}")
    token: str = response.json()["token"]
    return token


# Socket.IO clients.


async def connect_clients(url: str, tokens: list[str], heard: Heard) -> list[socketio.AsyncClient]:
    clients: list[socketio.AsyncClient] = []

    async def connect(index: int, token: str) -> None:
        client = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        client.on("job:update", lambda data: heard.update(index, data))
        clients.append(client)
        refusals: list[object] = []
        client.on("connect_error", refusals.append)
        try:
            await client.connect(
                url, auth={"token": token}, transports=["websocket"], wait_timeout=CONNECT_TIMEOUT_S
            )
        except socketio.exceptions.ConnectionError as exc:
            raise BenchError(f"client {index} not connected: {refusals or exc}") from None

        def disconnected(*_reason: object) -> None:
            heard.disconnects += 1

        client.on("disconnect", disconnected)

    try:
        await bounded(CONNECT_CONCURRENCY, (connect(index, token) for index, token in enumerate(tokens)))
    except BaseException:
        await disconnect_clients(clients)
        raise
    return clients


async def disconnect_clients(clients: list[socketio.AsyncClient]) -> None:
    async def disconnect(client: socketio.AsyncClient) -> None:
        if client.connected:
            with suppress(Exception):
                await client.disconnect()

    async with asyncio.timeout(CONNECT_TIMEOUT_S):
        await asyncio.gather(*(disconnect(client) for client in clients))


@contextmanager
def loop_lag(samples: list[float]) -> Iterator[None]:
    """How late (ms) a LAG_INTERVAL_S sleep wakes, sampled in the background meanwhile."""

    async def sample() -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(LAG_INTERVAL_S)
            samples.append((time.perf_counter() - started - LAG_INTERVAL_S) * 1000)

    task = asyncio.create_task(sample())
    try:
        yield
    finally:
        task.cancel()


# One measurement.


async def measure(
    config: Config,
    args: argparse.Namespace,
    *,
    tokens: list[str],
    worker_token: str,
    first_input: int,
    dsn: str,
) -> Measurement:
    heard = Heard()
    started = time.perf_counter()
    clients = await connect_clients(config.listen_url, tokens, heard)
    connect_s = time.perf_counter() - started
    limits = httpx.Limits(max_connections=HTTP_CONCURRENCY, max_keepalive_connections=HTTP_CONCURRENCY)
    try:
        async with (
            httpx.AsyncClient(base_url=config.api_url, timeout=HTTP_TIMEOUT_S, limits=limits) as http,
            httpx.AsyncClient(base_url=config.api_url, timeout=HTTP_TIMEOUT_S) as worker,
        ):
            owners: dict[int, int] = {}

            async def submit(number: int) -> None:
                owner = number % len(tokens)
                body = {"type": JOB_TYPE, "inputPayload": {"id": first_input + number}}
                created = await post(http, "/api/jobs", body, tokens[owner])
                if created["cached"]:
                    raise BenchError(f"input {first_input + number} was answered from the cache: {created}")
                owners[created["jobId"]] = owner

            await bounded(HTTP_CONCURRENCY, (submit(number) for number in range(args.jobs)))
            if missing := await heard.wait_for("PENDING", owners, STEP_TIMEOUT_S):
                raise BenchError(f"{config.name}: PENDING of {len(missing)} jobs not heard")

            sent: dict[int, float] = {}
            answered: dict[int, float] = {}
            lag_ms: list[float] = []
            cpu_before = time.process_time()
            server_before = sum(cpu_seconds(pid) for pid in config.server_pids)
            with loop_lag(lag_ms):
                await report_results(config, args, worker, worker_token, heard, owners, sent, answered)
                last_sent = time.perf_counter()
                missing = await heard.wait_for(SUCCEEDED, owners, args.wait)
            client_cpu = time.process_time() - cpu_before
            server_cpu = sum(cpu_seconds(pid) for pid in config.server_pids) - server_before
            dropped = heard.disconnects  # before ours, at the end
    finally:
        await disconnect_clients(clients)

    latencies: list[float] = []
    after_answer: list[float] = []
    foreign, last_heard = 0, last_sent
    for status, jobs in heard.arrivals.items():
        for job_id, by_client in jobs.items():
            foreign += sum(client != owners.get(job_id) for client in by_client)
            if status == SUCCEEDED and (at := by_client.get(owners.get(job_id, -1))) is not None:
                latencies.append((at - sent[job_id]) * 1000)
                after_answer.append((at - answered[job_id]) * 1000)
                last_heard = max(last_heard, at)
    if len(latencies) + len(missing) != args.jobs:
        raise BenchError(f"{config.name}: {len(latencies)} heard and {len(missing)} missing of {args.jobs}")
    await check_succeeded(dsn, list(owners))
    return Measurement(
        config=config.name,
        jobs=args.jobs,
        latencies_ms=latencies,
        foreign=foreign,
        repeats=heard.repeats,
        disconnects=dropped,
        connect_s=connect_s,
        result_rtt_ms=[(answered[job_id] - sent[job_id]) * 1000 for job_id in sent],
        after_answer_ms=after_answer,
        results_s=last_heard - min(sent.values()),
        lag_ms=lag_ms,
        client_cpu_s=client_cpu,
        server_cpu_s=server_cpu,
    )


async def report_results(
    config: Config,
    args: argparse.Namespace,
    worker: httpx.AsyncClient,
    token: str,
    heard: Heard,
    owners: dict[int, int],
    sent: dict[int, float],
    answered: dict[int, float],
) -> None:
    """Claim every job, CLAIM_BATCH at a time, and report each SUCCEEDED alone; `sent`
    gets the moment before each result request, `answered` the moment its answer came."""
    claim = {"jobTypes": [JOB_TYPE], "max": CLAIM_BATCH, "waitSeconds": 0, "workerId": "bench-realtime"}
    paced_from = time.perf_counter()
    while len(sent) < len(owners):
        assignments = (await post(worker, "/api/jobs/claim", claim, token))["assignments"]
        expected = min(CLAIM_BATCH, len(owners) - len(sent))
        strangers = [item["job"]["id"] for item in assignments if item["job"]["id"] not in owners]
        if len(assignments) != expected or strangers:
            raise BenchError(f"{config.name}: claimed {len(assignments)} (expected {expected}): {strangers}")
        batch = [item["job"]["id"] for item in assignments]
        if missing := await heard.wait_for("IN_PROGRESS", batch, STEP_TIMEOUT_S):
            raise BenchError(f"{config.name}: IN_PROGRESS of {len(missing)} jobs not heard")
        for item in assignments:
            if args.rate:
                # On a fixed schedule, so a slow answer does not slow every later one.
                delay = paced_from + len(sent) / args.rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            assignment = item["assignment"]
            body = {"leaseToken": assignment["leaseToken"], "status": SUCCEEDED, "resultPayload": {}}
            path = f"/api/jobs/assignments/{assignment['id']}/result"
            job_id = item["job"]["id"]
            sent[job_id] = time.perf_counter()
            answer = await post(worker, path, body, token)
            answered[job_id] = time.perf_counter()
            if answer["job"]["status"] != SUCCEEDED:
                raise BenchError(f"{config.name}: {path} answered {answer}")


async def check_succeeded(dsn: str, job_ids: list[int]) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        succeeded = await connection.fetchval(
            "SELECT count(*) FROM jobs WHERE id = ANY($1::bigint[]) AND status = 'SUCCEEDED'"
            " AND attempt_count = 1",
            job_ids,
        )
    finally:
        await connection.close()
    if succeeded != len(job_ids):
        raise BenchError(f"{succeeded} of the {len(job_ids)} jobs SUCCEEDED after one attempt")


async def wait_for_listeners(redis_url: str, channel: str, count: int) -> None:
    """Until `count` processes listen on the channel (each subscribes as it starts)."""
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        async with asyncio.timeout(STEP_TIMEOUT_S):
            while True:
                [(_, listening)] = await client.pubsub_numsub(channel)
                if listening >= count:
                    return
                await asyncio.sleep(0.05)  # between checks of the condition
    finally:
        await client.aclose()


# The run.

ROW = "{:>5}  {:<11} {:>11} {:>7} {:>7} {:>7} {:>9} {:>10} {:>9} {:>7} {:>7} {:>8} {:>8}"
SUMMARY_HEADER = (
    "config",
    "p50 ms",
    "p99 ms",
    "max ms",
    "missing",
    "connect s",
    "foreign",
    "repeats",
    "dropped",
)
HEADER = (
    "round", "config", "heard", "p50 ms", "p99 ms", "max ms", "answer ms", "+update ms", "results/s",
    "lag p99", "lag max", "server s", "client s",
)  # fmt: skip


def row(round_: object, result: Measurement) -> str:
    latencies = result.latencies_ms or [float("nan")]
    return ROW.format(
        round_,
        result.config,
        f"{len(result.latencies_ms)}/{result.jobs}",
        f"{percentile(latencies, 0.50):.1f}",
        f"{percentile(latencies, 0.99):.1f}",
        f"{max(latencies):.1f}",
        f"{statistics.median(result.result_rtt_ms):.1f}",
        f"{statistics.median(result.after_answer_ms):.1f}" if result.after_answer_ms else "-",
        f"{result.jobs / result.results_s:.0f}",
        f"{percentile(result.lag_ms, 0.99):.1f}" if result.lag_ms else "-",
        f"{max(result.lag_ms):.1f}" if result.lag_ms else "-",
        f"{result.server_cpu_s:.1f}",
        f"{result.client_cpu_s:.1f}",
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=500, help="connected analysts (default 500)")
    parser.add_argument("--jobs", type=int, default=1000, help="jobs per measurement (default 1000)")
    parser.add_argument("--rounds", type=int, default=1, help="measurements per configuration (default 1)")
    parser.add_argument(
        "--rate", type=float, default=0.0, help="results per second; 0: each right after the last (default)"
    )
    parser.add_argument(
        "--wait", type=float, default=30.0, help="seconds after the last result for every update (default 30)"
    )
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help=f"default {DEFAULT_REDIS_URL}")
    parser.add_argument(
        "--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], default="WARNING",
        help="the servers' LOG_LEVEL (default WARNING: no access log line per request)",
    )  # fmt: skip
    parser.add_argument(
        "--server-url",
        default=os.environ.get(SERVER_URL_ENV, DEFAULT_SERVER_URL),
        help="a PostgreSQL server where the bench may create a database",
    )
    args = parser.parse_args()
    if min(args.clients, args.jobs, args.rounds) < 1 or args.rate < 0 or args.wait <= 0:
        parser.error("--clients, --jobs and --rounds must be at least 1, --rate 0 or more, --wait positive")
    return args


def raise_open_files_limit() -> None:
    """Each client is a socket here and one in the listening server (which inherits this)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run(args: argparse.Namespace) -> list[Measurement]:
    reefguide = Path(sys.executable).with_name("reefguide")
    channel = f"reefguide-bench-{secrets.token_hex(6)}"
    measurements: list[Measurement] = []
    with (
        tempfile.TemporaryDirectory(prefix="reefguide-bench-") as tmp,
        fresh_database(args.server_url) as dsn,
        ExitStack() as servers,
    ):
        work = Path(tmp)
        env = {
            **{name: value for name, value in os.environ.items() if name not in OWN_SETTINGS},
            "DATABASE_URL": dsn,
            "REEFGUIDE_DATA_DIR": str(work / "data"),
            "JWT_PRIVATE_KEY": generate_key_pair().private_pem(),
            "TEST_MODE": "true",
            "REEFGUIDE_ARGON2_TIME_COST": "1",
            "REEFGUIDE_ARGON2_MEMORY_KIB": "1024",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": args.log_level,
            "ADMIN_USERNAME": "admin@example.com",
            "ADMIN_PASSWORD": PASSWORD,
        }
        subprocess.run([reefguide, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
        create_user(reefguide, env, WORKER_EMAIL, "WORKER")
        redis_env = {**env, "REDIS_URL": args.redis_url, "REEFGUIDE_REDIS_CHANNEL": channel}
        urls: dict[str, str] = {}
        pids: dict[str, int] = {}
        logs: list[Path] = []
        try:
            for name, server_env in (("solo", env), ("a", redis_env), ("b", redis_env)):
                port = free_port()
                urls[name] = f"http://127.0.0.1:{port}"
                logs.append(work / f"server-{name}.log")
                command = [
                    str(reefguide),
                    "serve",
                    "--port",
                    str(port),
                    "--no-migrate",
                    "--no-embedded-workers",
                ]
                process = servers.enter_context(
                    server(command, {**server_env, "REEFGUIDE_DATA_DIR": str(work / name)}, logs[-1],
                           f"{urls[name]}/api/health")
                )  # fmt: skip
                pids[name] = process.pid
            configs = [
                Config("1 process", urls["solo"], urls["solo"], (pids["solo"],)),
                Config("2 + Redis", urls["a"], urls["b"], (pids["a"], pids["b"])),
            ]

            async def everything() -> None:
                await wait_for_listeners(args.redis_url, channel, 2)
                tokens = await analyst_tokens(urls["solo"], args.clients)
                worker_token = await login(urls["solo"], WORKER_EMAIL)
                print(ROW.format(*HEADER), flush=True)
                first_input = 1
                for round_ in range(1, args.rounds + 1):
                    # Which configuration goes first alternates.
                    for config in configs if round_ % 2 else reversed(configs):
                        await asyncio.to_thread(wait_idle, [*pids.values()])
                        result = await measure(
                            config, args, tokens=tokens, worker_token=worker_token,
                            first_input=first_input, dsn=dsn,
                        )  # fmt: skip
                        first_input += args.jobs
                        measurements.append(result)
                        print(row(round_, result), flush=True)

            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(everything())
        except Exception:
            for path in logs:
                if path.exists() and (tail := path.read_text(errors="replace").splitlines()[-15:]):
                    print(f"{path.name}'s last lines:", *tail, sep="\n  ", file=sys.stderr)
            raise
        finally:
            servers.close()  # stopped before the database is dropped
        for path in logs:
            if lines := path.read_text(errors="replace").splitlines():
                print(f"  {path.name}: {len(lines)} log lines; the first: {lines[0][:300]}")
    return measurements


def report(args: argparse.Namespace, measurements: list[Measurement]) -> int:
    medians = f", medians of {args.rounds} rounds" if args.rounds > 1 else ""
    pace = f"{args.rate:g}/s" if args.rate else "each right after the last"
    print(
        f"\nResult request to the owner's job:update SUCCEEDED: {args.clients} clients, {args.jobs:,} jobs,"
        f" results one at a time ({pace}){medians}:"
    )
    summary = "{:<11} {:>8} {:>8} {:>8} {:>8} {:>10} {:>8} {:>8} {:>8}"
    print(summary.format(*SUMMARY_HEADER))
    by_config: dict[str, list[Measurement]] = {}
    for result in measurements:
        by_config.setdefault(result.config, []).append(result)
    for name, results in by_config.items():
        heard = [result.latencies_ms for result in results if result.latencies_ms]

        def median_of(figure: Callable[[list[float]], float], heard: list[list[float]] = heard) -> str:
            return f"{statistics.median(figure(latencies) for latencies in heard):.1f}" if heard else "-"

        print(
            summary.format(
                name,
                median_of(lambda latencies: percentile(latencies, 0.50)),
                median_of(lambda latencies: percentile(latencies, 0.99)),
                median_of(max),
                sum(result.missing for result in results),
                f"{statistics.median(result.connect_s for result in results):.1f}",
                sum(result.foreign for result in results),
                sum(result.repeats for result in results),
                sum(result.disconnects for result in results),
            )
        )
    print(
        "\nPer round: answer ms, the result request's round trip (p50); +update ms, from its answer to",
        "the owner's update (p50; negative: the update came first); results/s, results over the time",
        "from the first result request to the last update; lag, how late this process's loop woke (ms);",
        "server s and client s, CPU seconds of the servers and of this process over the result phase.",
        "foreign: updates heard by a client that does not own the job; repeats: heard twice; dropped:",
        "clients disconnected during a measurement.",
        sep="\n",
    )
    failed = any(r.missing or r.foreign or r.repeats or r.disconnects for r in measurements)
    if failed:
        print(
            "FAILED: updates missing, heard by the wrong client or twice, or clients dropped", file=sys.stderr
        )
    return 1 if failed else 0


def main() -> int:
    args = parse_args()
    print("$", shlex.join(["uv", "run", "python", "bench/realtime.py", *sys.argv[1:]]), flush=True)
    raise_open_files_limit()
    failures: list[str] = []
    measurements = None
    try:
        measurements = run(args)
    except* BenchError as group:
        failures = bench_errors(group)
    if measurements is None:
        for failure in failures:
            print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    return report(args, measurements)


if __name__ == "__main__":
    sys.exit(main())
