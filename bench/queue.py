"""Throughput and latency of the job queue on PostgreSQL (the benchmark of issue 4),
against pgqueuer and against raw SQL, all measured in the same run:

1. reefguide over HTTP: N TEST jobs (default 20,000) are pre-enqueued, then W worker
   tasks (one run per W, default 8 and 32) drain them through `reefguide serve` as
   fast as they can: `POST /api/jobs/claim {jobTypes: [TEST], max: 100}` and
   `POST /api/jobs/assignments/results` with one SUCCEEDED result per claimed job,
   each worker with its own keep-alive httpx.AsyncClient, until a claim comes back
   empty. Jobs per second over the whole drain. The jobs are inserted in bulk through
   the service's models, row for row what `POST /api/jobs` creates (type, status
   PENDING, the cache hash from reefguide.jobs.hashing.job_hash, the input as the
   TEST type's parse_input leaves it, owner, priority, max attempts, and a
   job_requests row each), then VACUUM ANALYZE. Afterwards SQL checks that every job
   is SUCCEEDED after exactly one attempt, with one assignment and one result.
2. The peer, pgqueuer, on its own database (its schema put there by its own
   installer, `Queries.install()`): the same N no-op jobs enqueued in one call, then
   drained by 5 QueueManagers (pgqueuer's own benchmark's default number of dequeue
   tasks, `--pgq-consumers`) each on its own asyncpg connection, with pgqueuer's
   default batch settings (`QueueManager.run(mode=drain)`: batch size 10, buffered
   completion). Jobs per second.
3. The ceiling, on its own database: a simple jobs table, 8 asyncpg connections each
   claiming 100 rows per statement (`UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP
   LOCKED LIMIT 100) RETURNING id`) and completing them in one more statement, until
   nothing is left. Jobs per second.
4. Latency: K workers (default 4) long-poll `POST /api/jobs/claim {max: 1,
   waitSeconds: 30}`; an analyst creates 500 TEST jobs (new inputs, so no cache hit)
   one at a time through `POST /api/jobs`, each after the previous one was claimed
   and completed, and 5 ms more (its claimer is back waiting). The latency of a job is the time
   from the create response to the claim response that carries it, both read by this
   process; p50 and p99. (A claim response read before its create response counts 0.)

It prints each figure, the ratios ours/pgqueuer and ours/ceiling (for each W), and
the issue's goals: ours/pgqueuer >= 1.0 and ours/ceiling >= 0.15 (the best W), p50
under 10 ms and p99 under 50 ms, each met or not met.

    uv run python bench/queue.py [--jobs 20000] [--workers 8,32] [--batch 100] \\
        [--latency-jobs 500] [--rounds 1] [--skip-peer] [--skip-ceiling] [--skip-latency]

A short run: `uv run python bench/queue.py --jobs 2000 --workers 8 --latency-jobs 50`.

It needs a PostgreSQL server where it may create databases (`--server-url`, default
postgresql://postgres@127.0.0.1:5432/postgres) and pgqueuer (a dev dependency). The
server runs as in production: one `reefguide serve` process, the default database
pool (REEFGUIDE_DB_POOL_SIZE), JSON logs with an access line per request at
LOG_LEVEL=INFO (`--log-level WARNING` drops them), rate limits on. The workers are a
WORKER account and the jobs' owner an ANALYST, both made with `reefguide users
create`, each logged in once. The worker tasks, pgqueuer and the ceiling's
connections all run in this one process (on uvloop, as the server does) on the same
machine as the server and PostgreSQL: the client's CPU counts against every figure
alike, and the CPU each side used is printed. With `--rounds` above 1 the
measurements are repeated, alternating which go first, and medians are reported.
The databases, the data directory and the server are gone when it ends.
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    # Run as a script, bench/ comes first on the import path, where this file would
    # stand in for the standard library's `queue` (asyncio's executor, logging and
    # others import it): look there last. harness is still found.
    sys.path.append(sys.path.pop(0))

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import uvloop
from pgqueuer.db import AsyncpgDriver
from pgqueuer.models import Job as PgqJob
from pgqueuer.qm import QueueManager
from pgqueuer.queries import Queries
from pgqueuer.types import QueueExecutionMode

from harness import (
    ANALYST_EMAIL,
    DEFAULT_SERVER_URL,
    JOB_TYPE,
    PASSWORD,
    PGQ_ENTRYPOINT,
    SERVER_URL_ENV,
    WORKER_EMAIL,
    BenchError,
    bench_errors,
    check_drained,
    cpu_seconds,
    create_user,
    database_cpu_seconds,
    enqueue_jobs,
    free_port,
    fresh_database,
    parse_workers,
    percentile,
    pgqueuer_enqueue,
    server,
)

# Latency jobs take inputs far from the throughput jobs', so none is a cache hit.
LATENCY_FIRST_INPUT = 1_000_000_000
CLAIM_WAIT_SECONDS = 30.0
HTTP_TIMEOUT_S = 60.0

GOAL_PEER_RATIO = 1.0
GOAL_CEILING_RATIO = 0.15
GOAL_P50_MS = 10.0
GOAL_P99_MS = 50.0


@dataclass
class Drain:
    jobs: int
    seconds: float
    client_cpu_s: float  # this process
    server_cpu_s: float | None = None  # reefguide serve, for our own runs
    database_cpu_s: float | None = None  # PostgreSQL, when it runs on this machine
    # Round trips of our workers' requests (ms), as they saw them.
    claim_ms: list[float] = field(default_factory=list)
    results_ms: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds


@dataclass(frozen=True)
class Latency:
    samples_ms: list[float]  # claim response minus create response; negative: claim read first
    create_ms: list[float]  # the create request's own round trip

    @property
    def clamped(self) -> list[float]:
        return [max(sample, 0.0) for sample in self.samples_ms]


async def timed(run: Callable[[], Awaitable[None]]) -> tuple[float, float, float | None]:
    """Wall and CPU seconds (this process) that `run` took, and PostgreSQL's CPU
    seconds meanwhile (None if it does not run on this machine)."""
    database, cpu, started = database_cpu_seconds(), time.process_time(), time.perf_counter()
    await run()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    database_after = database_cpu_seconds()
    used = None if database is None or database_after is None else database_after - database
    return seconds, cpu, used


# Ours over HTTP.


def login(base_url: str, email: str) -> str:
    response = httpx.post(f"{base_url}/api/auth/login", json={"email": email, "password": PASSWORD})
    if response.status_code != 200:
        raise BenchError(f"login {email}: {response.status_code} {response.text}")
    token: str = response.json()["token"]
    return token


def client(base_url: str, token: str) -> httpx.AsyncClient:
    """One keep-alive connection."""
    return httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=HTTP_TIMEOUT_S,
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
    )


async def post(api: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post(path, json=body)
    if response.status_code != 200:
        raise BenchError(f"POST {path}: {response.status_code} {response.text[:2000]}")
    answer: dict[str, Any] = response.json()
    return answer


async def complete(api: httpx.AsyncClient, assignments: list[dict[str, Any]]) -> None:
    """Report every claimed job SUCCEEDED in one request; each must be accepted."""
    results = [
        {
            "assignmentId": claimed["assignment"]["id"],
            "leaseToken": claimed["assignment"]["leaseToken"],
            "status": "SUCCEEDED",
            "resultPayload": {},
        }
        for claimed in assignments
    ]
    outcomes = (await post(api, "/api/jobs/assignments/results", {"results": results}))["results"]
    wrong = [
        outcome for outcome in outcomes if outcome["status"] != 200 or outcome["jobStatus"] != "SUCCEEDED"
    ]
    if wrong or len(outcomes) != len(results):
        raise BenchError(f"results not accepted ({len(outcomes)} answers to {len(results)}): {wrong[:5]}")


async def drain_over_http(base_url: str, token: str, *, workers: int, batch: int, count: int) -> Drain:
    claimed: list[int] = []
    claim_ms: list[float] = []
    results_ms: list[float] = []

    async def worker(api: httpx.AsyncClient, index: int) -> None:
        body = {"jobTypes": [JOB_TYPE], "max": batch, "waitSeconds": 0, "workerId": f"bench-{index}"}
        while True:
            started = time.perf_counter()
            assignments = (await post(api, "/api/jobs/claim", body))["assignments"]
            claimed_at = time.perf_counter()
            if not assignments:
                return
            claim_ms.append((claimed_at - started) * 1000)
            await complete(api, assignments)
            results_ms.append((time.perf_counter() - claimed_at) * 1000)
            claimed.extend(item["job"]["id"] for item in assignments)

    apis = [client(base_url, token) for _ in range(workers)]
    try:
        # Connect before the clock starts.
        for api in apis:
            (await api.get("/api/health")).raise_for_status()

        async def run() -> None:
            async with asyncio.TaskGroup() as group:
                for index, api in enumerate(apis):
                    group.create_task(worker(api, index))

        seconds, cpu, database_cpu = await timed(run)
    finally:
        for api in apis:
            await api.aclose()
    if len(claimed) != count or len(set(claimed)) != count:
        raise BenchError(f"claimed {len(claimed)} jobs ({len(set(claimed))} distinct), expected {count}")
    return Drain(count, seconds, cpu, database_cpu_s=database_cpu, claim_ms=claim_ms, results_ms=results_ms)


async def measure_latency(
    base_url: str, worker_token: str, analyst_token: str, *, count: int, workers: int, gap_s: float
) -> Latency:
    loop = asyncio.get_running_loop()
    claimed_at: dict[int, asyncio.Future[float]] = {}
    finished: dict[int, asyncio.Future[None]] = {}

    def arrival(job_id: int) -> asyncio.Future[float]:
        return claimed_at.setdefault(job_id, loop.create_future())

    def completion(job_id: int) -> asyncio.Future[None]:
        return finished.setdefault(job_id, loop.create_future())

    async def worker(api: httpx.AsyncClient, index: int) -> None:
        body = {
            "jobTypes": [JOB_TYPE],
            "max": 1,
            "waitSeconds": CLAIM_WAIT_SECONDS,
            "workerId": f"lat-{index}",
        }
        while True:
            assignments = (await post(api, "/api/jobs/claim", body))["assignments"]
            now = time.perf_counter()
            for item in assignments:
                future = arrival(item["job"]["id"])
                if future.done():
                    raise BenchError(f"job {item['job']['id']} claimed twice")
                future.set_result(now)
            if assignments:
                await complete(api, assignments)
                for item in assignments:
                    completion(item["job"]["id"]).set_result(None)

    samples: list[float] = []
    creates: list[float] = []
    apis = [client(base_url, worker_token) for _ in range(workers)]
    async with client(base_url, analyst_token) as analyst:
        try:
            for api in apis:
                (await api.get("/api/health")).raise_for_status()
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(worker(api, index)) for index, api in enumerate(apis)]
                await asyncio.sleep(1.0)  # every worker is waiting in its claim
                for number in range(LATENCY_FIRST_INPUT, LATENCY_FIRST_INPUT + count):
                    sent = time.perf_counter()
                    created = await post(
                        analyst, "/api/jobs", {"type": JOB_TYPE, "inputPayload": {"id": number}}
                    )
                    answered = time.perf_counter()
                    if created["cached"]:
                        raise BenchError(f"input {number} was answered from the cache: {created}")
                    try:
                        claim = await asyncio.wait_for(arrival(created["jobId"]), CLAIM_WAIT_SECONDS + 5)
                        await asyncio.wait_for(completion(created["jobId"]), HTTP_TIMEOUT_S)
                    except TimeoutError:
                        raise BenchError(
                            f"job {created['jobId']} was not claimed and completed in time"
                        ) from None
                    samples.append((claim - answered) * 1000)
                    creates.append((answered - sent) * 1000)
                    await asyncio.sleep(gap_s)  # its claimer is back waiting
                for task in tasks:
                    task.cancel()
        finally:
            for api in apis:
                await api.aclose()
    return Latency(samples, creates)


async def check_latency_jobs(dsn: str, count: int) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        succeeded = await connection.fetchval(
            "SELECT count(*) FROM jobs WHERE status = 'SUCCEEDED' AND attempt_count = 1"
            " AND (input_payload->>'id')::bigint >= $1",
            LATENCY_FIRST_INPUT,
        )
    finally:
        await connection.close()
    if succeeded != count:
        raise BenchError(f"{succeeded} of the {count} latency jobs SUCCEEDED once")


# The peer: pgqueuer.


async def pgqueuer_drain(dsn: str, count: int, consumers: int) -> Drain:
    await pgqueuer_enqueue(dsn, count)

    done: list[int] = []

    async def noop(job: PgqJob) -> None:
        done.append(job.id)

    connections = [await asyncpg.connect(dsn) for _ in range(consumers)]
    try:
        managers = []
        for connection in connections:
            manager = QueueManager(Queries(AsyncpgDriver(connection)))
            manager.entrypoint(PGQ_ENTRYPOINT)(noop)  # the decorator, applied by hand
            managers.append(manager)

        async def run() -> None:
            await asyncio.gather(*(manager.run(mode=QueueExecutionMode.drain) for manager in managers))

        seconds, cpu, database_cpu = await timed(run)
        left = await connections[0].fetchval("SELECT count(*) FROM pgqueuer")
    finally:
        for connection in connections:
            await connection.close()
    if len(done) != count or len(set(done)) != count or left:
        raise BenchError(f"pgqueuer ran {len(done)} jobs ({len(set(done))} distinct) of {count}; {left} left")
    return Drain(count, seconds, cpu, database_cpu_s=database_cpu)


# The ceiling: raw SQL.

CEILING_SCHEMA = """
DROP TABLE IF EXISTS jobs;
CREATE TABLE jobs (
    id bigserial PRIMARY KEY,
    type text NOT NULL,
    status text NOT NULL DEFAULT 'PENDING',
    priority integer NOT NULL DEFAULT 0,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_pending ON jobs (type, priority DESC, id) WHERE status = 'PENDING';
"""
CEILING_CLAIM = """
UPDATE jobs SET status = 'IN_PROGRESS', updated_at = now()
WHERE id IN (
    SELECT id FROM jobs WHERE status = 'PENDING' AND type = $1
    ORDER BY priority DESC, id LIMIT $2 FOR UPDATE SKIP LOCKED
)
RETURNING id
"""
CEILING_COMPLETE = """
UPDATE jobs SET status = 'SUCCEEDED', updated_at = now()
WHERE id = ANY($1::bigint[]) AND status = 'IN_PROGRESS'
"""


async def ceiling_drain(dsn: str, count: int, connections: int, batch: int) -> Drain:
    setup = await asyncpg.connect(dsn)
    try:
        await setup.execute(CEILING_SCHEMA)
        await setup.execute(
            "INSERT INTO jobs (type, payload) SELECT $1, jsonb_build_object('id', n)"
            " FROM generate_series(1, $2) AS n",
            JOB_TYPE,
            count,
        )
        await setup.execute("VACUUM ANALYZE jobs")
    finally:
        await setup.close()

    done: list[int] = []

    async def worker(connection: asyncpg.Connection) -> None:
        while True:
            ids = [row["id"] for row in await connection.fetch(CEILING_CLAIM, JOB_TYPE, batch)]
            if not ids:
                return
            status = await connection.execute(CEILING_COMPLETE, ids)
            if status != f"UPDATE {len(ids)}":
                raise BenchError(f"ceiling: completing {len(ids)} jobs answered {status}")
            done.extend(ids)

    pool = [await asyncpg.connect(dsn) for _ in range(connections)]
    try:
        for connection in pool:  # statements prepared before the clock starts
            await connection.prepare(CEILING_CLAIM)
            await connection.prepare(CEILING_COMPLETE)

        async def run() -> None:
            async with asyncio.TaskGroup() as group:
                for connection in pool:
                    group.create_task(worker(connection))

        seconds, cpu, database_cpu = await timed(run)
        succeeded = await pool[0].fetchval("SELECT count(*) FROM jobs WHERE status = 'SUCCEEDED'")
    finally:
        for connection in pool:
            await connection.close()
    if len(done) != count or len(set(done)) != count or succeeded != count:
        raise BenchError(f"ceiling completed {len(done)} ({len(set(done))} distinct, {succeeded} in SQL)")
    return Drain(count, seconds, cpu, database_cpu_s=database_cpu)


# The run.


def median_drain(drains: list[Drain]) -> Drain:
    return sorted(drains, key=lambda drain: drain.rate)[(len(drains) - 1) // 2]


def describe(label: str, drain: Drain) -> str:
    line = f"  {label:<44} {drain.rate:>8.0f} jobs/s  ({drain.jobs:,} in {drain.seconds:.2f} s;"
    line += f" client CPU {drain.client_cpu_s:.1f} s"
    if drain.server_cpu_s is not None:
        line += f", server CPU {drain.server_cpu_s:.1f} s = {drain.server_cpu_s / drain.seconds:.0%}"
    if drain.database_cpu_s is not None:
        line += f", PostgreSQL CPU {drain.database_cpu_s:.1f} s"
    line += ")"
    if drain.claim_ms and drain.results_ms:
        line += (
            f"\n  {'':<44} round trips: claim p50 {statistics.median(drain.claim_ms):.0f} ms,"
            f" results p50 {statistics.median(drain.results_ms):.0f} ms"
            f" ({len(drain.claim_ms)} of each)"
        )
    return line


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


@dataclass
class Outcome:
    ours: dict[int, list[Drain]]
    peer: list[Drain]
    ceiling: list[Drain]
    latency: Latency | None = None
    access_lines: int = 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=20_000, help="jobs per drain (default 20000)")
    parser.add_argument(
        "--workers", type=parse_workers, default=[8, 32], help="worker tasks, one drain each (default 8,32)"
    )
    parser.add_argument("--batch", type=int, default=100, help="jobs per claim and per results (default 100)")
    parser.add_argument("--pgq-consumers", type=int, default=5, help="pgqueuer QueueManagers (default 5)")
    parser.add_argument("--ceiling-connections", type=int, default=8, help="raw SQL connections (default 8)")
    parser.add_argument("--ceiling-batch", type=int, default=100, help="raw SQL rows per claim (default 100)")
    parser.add_argument("--latency-jobs", type=int, default=500, help="jobs created one by one (default 500)")
    parser.add_argument("--latency-workers", type=int, default=4, help="long-polling workers (default 4)")
    parser.add_argument("--latency-gap-ms", type=float, default=5.0, help="pause after each job (default 5)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the drains, report medians (default 1)")
    parser.add_argument("--skip-peer", action="store_true", help="no pgqueuer drain")
    parser.add_argument("--skip-ceiling", action="store_true", help="no raw SQL drain")
    parser.add_argument("--skip-latency", action="store_true", help="no latency measurement")
    parser.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        default="INFO",
        help="the server's LOG_LEVEL (default INFO: an access log line per request, as in production)",
    )
    parser.add_argument(
        "--server-url",
        default=os.environ.get(SERVER_URL_ENV, DEFAULT_SERVER_URL),
        help="a PostgreSQL server where the bench may create databases",
    )
    args = parser.parse_args()
    if min(args.jobs, args.rounds, args.pgq_consumers, args.ceiling_connections, args.ceiling_batch) < 1:
        parser.error("counts must be at least 1")
    if not 1 <= args.batch <= 100 or args.latency_jobs < 1 or args.latency_workers < 2:
        parser.error("--batch must be 1-100, --latency-jobs at least 1, --latency-workers at least 2")
    return args


def run(args: argparse.Namespace) -> Outcome:
    reefguide = Path(sys.executable).with_name("reefguide")
    outcome = Outcome(ours={workers: [] for workers in args.workers}, peer=[], ceiling=[])
    with (
        tempfile.TemporaryDirectory(prefix="reefguide-bench-") as tmp,
        fresh_database(args.server_url) as dsn,
        fresh_database(args.server_url) as pgq_dsn,
        fresh_database(args.server_url) as ceiling_dsn,
    ):
        work = Path(tmp)
        env = {
            **os.environ,
            "DATABASE_URL": dsn,
            "REEFGUIDE_DATA_DIR": str(work / "data"),
            "LOG_FORMAT": "json",
            "LOG_LEVEL": args.log_level,
            "ADMIN_USERNAME": "admin@example.com",
            "ADMIN_PASSWORD": PASSWORD,
        }
        subprocess.run([reefguide, "db", "upgrade"], env=env, check=True, capture_output=True)
        create_user(reefguide, env, WORKER_EMAIL, "WORKER")
        analyst_id = create_user(reefguide, env, ANALYST_EMAIL, "ANALYST")
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        log_path = work / "server.log"
        try:
            with server(
                [str(reefguide), "serve", "--port", str(port), "--no-migrate", "--no-embedded-workers"],
                env, log_path, f"{base_url}/api/health",
            ) as process:  # fmt: skip
                worker_token = login(base_url, WORKER_EMAIL)
                analyst_token = login(base_url, ANALYST_EMAIL)

                async def our_drain(workers: int) -> None:
                    await enqueue_jobs(dsn, analyst_id, args.jobs)
                    before = cpu_seconds(process.pid)
                    drain = await drain_over_http(
                        base_url, worker_token, workers=workers, batch=args.batch, count=args.jobs
                    )
                    drain.server_cpu_s = cpu_seconds(process.pid) - before
                    await check_drained(dsn, args.jobs)
                    outcome.ours[workers].append(drain)
                    print(describe(f"reefguide over HTTP, {workers} workers", drain), flush=True)

                async def baselines() -> None:
                    if not args.skip_peer:
                        drain = await pgqueuer_drain(pgq_dsn, args.jobs, args.pgq_consumers)
                        outcome.peer.append(drain)
                        print(describe(f"pgqueuer, {args.pgq_consumers} consumers", drain), flush=True)
                    if not args.skip_ceiling:
                        drain = await ceiling_drain(
                            ceiling_dsn, args.jobs, args.ceiling_connections, args.ceiling_batch
                        )
                        outcome.ceiling.append(drain)
                        label = f"raw SQL, {args.ceiling_connections} connections"
                        print(describe(label, drain), flush=True)

                async def everything() -> None:
                    for round_ in range(1, args.rounds + 1):
                        print(f"Round {round_} of {args.rounds}: {args.jobs:,} jobs per drain", flush=True)
                        # Odd rounds: baselines first; even rounds: ours first, in reverse order.
                        if round_ % 2:
                            await baselines()
                        for workers in args.workers if round_ % 2 else reversed(args.workers):
                            await our_drain(workers)
                        if not round_ % 2:
                            await baselines()
                    if not args.skip_latency:
                        outcome.latency = await measure_latency(
                            base_url,
                            worker_token,
                            analyst_token,
                            count=args.latency_jobs,
                            workers=args.latency_workers,
                            gap_s=args.latency_gap_ms / 1000,
                        )
                        await check_latency_jobs(dsn, args.latency_jobs)

                with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                    runner.run(everything())
        except Exception:
            if log_path.exists():
                tail = log_path.read_text(errors="replace").splitlines()[-15:]
                print("The server log's last lines:", *tail, sep="\n  ", file=sys.stderr)
            raise
        outcome.access_lines = sum(
            1 for line in log_path.read_text().splitlines() if '"reefguide.access"' in line
        )
    return outcome


def main() -> int:
    args = parse_args()
    failures: list[str] = []
    outcome = None
    try:
        outcome = run(args)
    except* BenchError as group:
        failures = bench_errors(group)
    if outcome is None:
        for failure in failures:
            print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    return report(args, outcome)


def report(args: argparse.Namespace, outcome: Outcome) -> int:
    ours, peer, ceiling, latency = outcome.ours, outcome.peer, outcome.ceiling, outcome.latency
    medians = " (medians of the rounds)" if args.rounds > 1 else ""
    print(f"\nJob queue on PostgreSQL, {args.jobs:,} jobs per drain, batches of {args.batch}{medians}:")
    ours_median = {workers: median_drain(drains) for workers, drains in ours.items()}
    for workers, drain in ours_median.items():
        print(describe(f"reefguide over HTTP, {workers} workers", drain))
    peer_median = median_drain(peer) if peer else None
    ceiling_median = median_drain(ceiling) if ceiling else None
    if peer_median:
        print(describe(f"pgqueuer (asyncpg), {args.pgq_consumers} consumers, batch 10", peer_median))
    if ceiling_median:
        label = f"raw SQL, {args.ceiling_connections} connections, {args.ceiling_batch} a statement"
        print(describe(label, ceiling_median))
    for workers, drain in ours_median.items():
        ratios = []
        if peer_median:
            ratios.append(f"ours/pgqueuer {drain.rate / peer_median.rate:.2f}")
        if ceiling_median:
            ratios.append(f"ours/ceiling {drain.rate / ceiling_median.rate:.3f}")
        if ratios:
            print(f"  ratios at {workers} workers: {', '.join(ratios)}")
    print(f"  server access log lines: {outcome.access_lines:,} (LOG_LEVEL={args.log_level})")

    best_workers, best = max(ours_median.items(), key=lambda item: item[1].rate)
    print(f"\nGoals (throughput: the best worker count, {best_workers}):")
    if peer_median:
        ratio = best.rate / peer_median.rate
        print(f"  ours/pgqueuer >= {GOAL_PEER_RATIO}: {ratio:.2f}, {verdict(ratio >= GOAL_PEER_RATIO)}")
    if ceiling_median:
        ratio = best.rate / ceiling_median.rate
        print(f"  ours/ceiling >= {GOAL_CEILING_RATIO}: {ratio:.3f}, {verdict(ratio >= GOAL_CEILING_RATIO)}")
    if latency is not None:
        clamped = latency.clamped
        p50, p99 = percentile(clamped, 0.50), percentile(clamped, 0.99)
        early = sum(sample <= 0 for sample in latency.samples_ms)
        print(
            f"  create-to-claim over {len(clamped)} jobs, {args.latency_workers} waiting workers "
            f"(create round trip p50 {percentile(latency.create_ms, 0.5):.2f} ms; "
            f"{early} claims read before their create response, counted 0 ms; "
            f"max {max(clamped):.2f} ms, mean {statistics.fmean(clamped):.2f} ms):"
        )
        print(f"  p50 < {GOAL_P50_MS:.0f} ms: {p50:.2f} ms, {verdict(p50 < GOAL_P50_MS)}")
        print(f"  p99 < {GOAL_P99_MS:.0f} ms: {p99:.2f} ms, {verdict(p99 < GOAL_P99_MS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
