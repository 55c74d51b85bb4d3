"""Real worker processes draining the job queue (the benchmark of issue 5), against
pgqueuer's own worker processes, both measured in the same run:

1. Ours: N TEST jobs (default 2,000, durationSeconds 0) are pre-enqueued (as
   bench/queue.py does: row for row what `POST /api/jobs` creates), then W
   `reefguide worker` processes (one drain per W, default 1, 2 and 4) run them
   through `reefguide serve --no-embedded-workers`: each with an API key of a WORKER
   account (WORKER_API_KEY), JOB_TYPES=TEST, MAX_CONCURRENT_JOBS=8 (`--max-concurrent`),
   IDLE_TIMEOUT_MS=3000 so it exits once the queue is empty (a claim that was waiting
   on the server may hold it longer), LOG_LEVEL=WARNING, and the other settings at
   their defaults (claims long-poll up to 20 s). Afterwards SQL
   checks that every job SUCCEEDED after exactly one attempt, with one assignment and
   one result.
2. The peer, on its own database: the same N no-op jobs enqueued in one call
   (pgqueuer's schema put there by its own installer), then W processes of
   bench/pgqueuer_worker.py, each a pgqueuer QueueManager on its own asyncpg
   connection in drain mode, with `max_concurrent_tasks` 8 (the same cap of jobs in
   hand per process as MAX_CONCURRENT_JOBS; pgqueuer wants at least twice the batch
   size) and `batch_size` 4; its other settings at their defaults. Afterwards the
   processes' own counts and pgqueuer's log table must show each job picked once and
   successful once.

For both, the clock starts as the first worker process starts (so the workers'
start-up counts) and stops when this process first sees, polling every 50 ms with
one `count(*)`, that no job is left (ours: none short of SUCCEEDED; pgqueuer: its
queue table empty, as a finished job's row is deleted when its log row is written):
the time until the last job is done. Jobs per second is N over that time. Also
printed: when the first job was done, when the last worker process was gone, the
CPU the worker processes used (all told) and the server's CPU until the last job
(and per job, in the summary).

Ours and pgqueuer take turns within each round (which goes first alternates), since
the machine is shared and noisy: the ratio ours/pgqueuer, measured side by side, is
the figure. With `--rounds` above 1, medians are reported.

    uv run python bench/workers.py [--jobs 2000] [--workers 1,2,4] [--rounds 1] \\
        [--max-concurrent 8] [--timeout 300] [--log-level INFO]

A short run: `uv run python bench/workers.py --jobs 300 --workers 1,2`.

It needs a PostgreSQL server where it may create databases (`--server-url`, default
postgresql://postgres@127.0.0.1:5432/postgres) and pgqueuer (a dev dependency). The
server runs as in production (one `reefguide serve` process, JSON logs with an access
line per request at LOG_LEVEL=INFO) on 127.0.0.1, with the workers, PostgreSQL and
this process on the same machine. Every drain is bounded (`--timeout` seconds for
the jobs, then 60 s for the processes to exit, then they are killed); the databases,
the data directory, the server and every worker are gone when it ends.
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    # Run as a script, bench/ comes first on the import path, where queue.py would
    # stand in for the standard library's `queue` (logging.handlers, which pgqueuer
    # imports, imports it): look there last. harness is still found.
    sys.path.append(sys.path.pop(0))

import argparse
import asyncio
import os
import resource
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, replace

import asyncpg

from harness import (
    ANALYST_EMAIL,
    BENCH_DIR,
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
    enqueue_jobs,
    free_port,
    fresh_database,
    parse_workers,
    pgqueuer_enqueue,
    server,
)

PGQ_WORKER = BENCH_DIR / "pgqueuer_worker.py"
POLL_S = 0.05
IDLE_TIMEOUT_MS = 3000
# After the last job: the idle timeout, plus a claim that may still be waiting on the
# server (up to REEFGUIDE_WORKER_CLAIM_WAIT_SECONDS, 20 s by default).
EXIT_TIMEOUT_S = 60.0
KILL_TIMEOUT_S = 10.0

# Jobs not done yet. Ours: any short of SUCCEEDED. pgqueuer's: any row in its queue
# table (a job's row is deleted when its final log row is written).
OURS_LEFT = "SELECT count(*) FROM jobs WHERE status <> 'SUCCEEDED'"
PGQ_LEFT = "SELECT count(*) FROM pgqueuer"


@dataclass(frozen=True)
class Drain:
    jobs: int
    # Seconds from the first worker process's start.
    first_s: float  # to the first job done
    last_s: float  # to the last job done
    exit_s: float  # to the last worker process gone
    workers_cpu_s: float  # user + system CPU of all the worker processes
    server_cpu_s: float | None  # reefguide serve, to the last job (ours only)
    log_lines: list[str]  # what the workers logged (ours at WARNING: nothing, when all is well)

    @property
    def rate(self) -> float:
        return self.jobs / self.last_s


@dataclass(frozen=True)
class Fleet:
    """How to start one system's worker processes."""

    name: str
    dsn: str  # the database its jobs are in
    left_sql: str
    command: list[str]
    env: dict[str, str]
    server_pid: int | None = None


def children_cpu_seconds() -> float:
    """User and system CPU of this process's children that have been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def spawn(fleet: Fleet, log_path: Path, *, cwd: Path) -> subprocess.Popen[bytes]:
    """One worker process of `fleet` in its own session, its output to `log_path`."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            fleet.command, env=fleet.env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip


def stop(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to those still running, SIGKILL to those still running after that."""
    running = [process for process in processes if process.poll() is None]
    for process in running:
        with suppress(ProcessLookupError):  # it may have exited meanwhile
            os.killpg(process.pid, signal.SIGTERM)
    for process in running:
        try:
            process.wait(timeout=KILL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def log_tail(paths: Sequence[Path], lines: int = 10) -> str:
    """The last lines the workers wrote, for an error message (their logs go with the run)."""
    text = [line for path in paths if path.exists() for line in path.read_text(errors="replace").splitlines()]
    return (
        "\n  ".join(["the workers' last log lines:", *text[-lines:]])
        if text
        else "the workers logged nothing"
    )


async def drain(fleet: Fleet, workers: int, count: int, logs: Path, timeout_s: float) -> Drain:
    """Start `workers` processes of `fleet` on a queue of `count` jobs; time them until
    no job is left, then wait for them to exit by themselves."""
    connection = await asyncpg.connect(fleet.dsn)
    processes: list[subprocess.Popen[bytes]] = []
    paths = [logs / f"{fleet.name}-{workers}-{index}.log" for index in range(workers)]
    try:
        left_query = await connection.prepare(fleet.left_sql)
        if (left := await left_query.fetchval()) != count:
            raise BenchError(f"{fleet.name}: {left} jobs queued, expected {count}")
        cpu_before = children_cpu_seconds()
        server_before = cpu_seconds(fleet.server_pid) if fleet.server_pid else 0.0
        started = time.perf_counter()
        processes.extend(spawn(fleet, path, cwd=logs) for path in paths)
        first: float | None = None
        while True:
            left = await left_query.fetchval()
            now = time.perf_counter()
            if first is None and left < count:
                first = now
            if left == 0:
                break
            if all(process.poll() is not None for process in processes):
                codes = [process.returncode for process in processes]
                raise BenchError(
                    f"{fleet.name}: every worker exited ({codes}), {left} jobs left; {log_tail(paths)}"
                )
            if now - started > timeout_s:
                raise BenchError(
                    f"{fleet.name}: {left} of {count} jobs left after {timeout_s:.0f} s; {log_tail(paths)}"
                )
            await asyncio.sleep(POLL_S)
        server_cpu = cpu_seconds(fleet.server_pid) - server_before if fleet.server_pid else None
        last = now
        while any(process.poll() is None for process in processes):
            if time.perf_counter() - last > EXIT_TIMEOUT_S:
                raise BenchError(
                    f"{fleet.name}: workers still running {EXIT_TIMEOUT_S:.0f} s after the last job"
                )
            await asyncio.sleep(POLL_S)
        exited = time.perf_counter()
        if codes := [process.returncode for process in processes if process.returncode]:
            raise BenchError(f"{fleet.name}: workers exited with {codes}; {log_tail(paths)}")
    finally:
        stop(processes)
        await connection.close()
    assert first is not None
    return Drain(
        jobs=count,
        first_s=first - started,
        last_s=last - started,
        exit_s=exited - started,
        workers_cpu_s=children_cpu_seconds() - cpu_before,
        server_cpu_s=server_cpu,
        log_lines=[line for path in paths for line in path.read_text(errors="replace").splitlines()],
    )


async def check_pgqueuer_drained(dsn: str, count: int, ran: int) -> None:
    """Every job picked once and successful once, by the processes' own count too."""
    connection = await asyncpg.connect(dsn)
    try:
        row = await connection.fetchrow(
            """
            SELECT
              count(*) FILTER (WHERE status = 'picked') AS picked,
              count(DISTINCT job_id) FILTER (WHERE status = 'picked') AS picked_jobs,
              count(*) FILTER (WHERE status = 'successful') AS successful,
              count(DISTINCT job_id) FILTER (WHERE status = 'successful') AS successful_jobs
            FROM pgqueuer_log
            """
        )
        others = await connection.fetchval(
            "SELECT count(*) FROM pgqueuer_log WHERE status NOT IN ('queued', 'picked', 'successful')"
        )
        left = await connection.fetchval("SELECT count(*) FROM pgqueuer")
    finally:
        await connection.close()
    counts = {**dict(row), "ran": ran}
    if any(value != count for value in counts.values()) or others or left:
        raise BenchError(
            f"pgqueuer: expected {count} of each, no other log rows, none left: {counts}, {others=}, {left=}"
        )


def describe(label: str, result: Drain) -> str:
    line = (
        f"  {label:<22} {result.rate:>6.0f} jobs/s  last job {result.last_s:6.2f} s"
        f" (first {result.first_s:.2f} s, workers gone {result.exit_s:.1f} s);"
        f" workers CPU {result.workers_cpu_s:.1f} s"
    )
    if result.server_cpu_s is not None:
        line += f", server CPU {result.server_cpu_s:.1f} s = {result.server_cpu_s / result.last_s:.0%}"
    if result.log_lines:
        first = result.log_lines[0][:300]
        line += f"\n  {'':<22} the workers logged {len(result.log_lines)} lines; the first: {first}"
    return line


def create_api_key(reefguide: Path, env: dict[str, str], email: str) -> str:
    created = subprocess.run(
        [reefguide, "users", "create-api-key", email, "--name", "bench-workers"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if created.returncode != 0:
        raise BenchError(f"reefguide users create-api-key {email} failed:\n{created.stdout}{created.stderr}")
    return created.stdout.strip()


@dataclass
class Outcome:
    ours: dict[int, list[Drain]]
    peer: dict[int, list[Drain]]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=2000, help="jobs per drain (default 2000)")
    parser.add_argument(
        "--workers",
        type=parse_workers,
        default=[1, 2, 4],
        help="worker processes, one drain each (default 1,2,4)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="repeat the drains, report medians (default 1)")
    parser.add_argument(
        "--max-concurrent",
        type=int,
        default=8,
        help="jobs in hand per worker process (default 8; at least 2)",
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds a drain may take (default 300)")
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
    if min(args.jobs, args.rounds) < 1 or not 2 <= args.max_concurrent <= 100 or args.timeout <= 0:
        parser.error("--jobs and --rounds must be at least 1, --max-concurrent 2-100, --timeout positive")
    return args


def run(args: argparse.Namespace) -> Outcome:
    reefguide = Path(sys.executable).with_name("reefguide")
    outcome = Outcome(ours={w: [] for w in args.workers}, peer={w: [] for w in args.workers})
    with (
        tempfile.TemporaryDirectory(prefix="reefguide-bench-") as tmp,
        fresh_database(args.server_url) as dsn,
        fresh_database(args.server_url) as pgq_dsn,
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
        subprocess.run([reefguide, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
        create_user(reefguide, env, WORKER_EMAIL, "WORKER")
        analyst_id = create_user(reefguide, env, ANALYST_EMAIL, "ANALYST")
        api_key = create_api_key(reefguide, env, WORKER_EMAIL)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        log_path = work / "server.log"
        # The workers' own environment: nothing of the server's (no database).
        base_env = {
            name: value
            for name, value in os.environ.items()
            if name not in {"DATABASE_URL", "WORKER_USERNAME", "WORKER_PASSWORD"}
            and not name.startswith("REEFGUIDE_")
        }
        ours_env = {
            **base_env,
            "API_ENDPOINT": base_url,
            "WORKER_API_KEY": api_key,
            "JOB_TYPES": JOB_TYPE,
            "MAX_CONCURRENT_JOBS": str(args.max_concurrent),
            "IDLE_TIMEOUT_MS": str(IDLE_TIMEOUT_MS),
            "LOG_LEVEL": "WARNING",
            "LOG_FORMAT": "json",
        }
        peer = Fleet(
            name="pgqueuer",
            dsn=pgq_dsn,
            left_sql=PGQ_LEFT,
            command=[
                sys.executable,
                str(PGQ_WORKER),
                "--entrypoint",
                PGQ_ENTRYPOINT,
                "--max-concurrent",
                str(args.max_concurrent),
                "--batch",
                str(args.max_concurrent // 2),
            ],
            env={**base_env, "DATABASE_URL": pgq_dsn},
        )
        logs = work / "logs"
        logs.mkdir()
        try:
            with server(
                [str(reefguide), "serve", "--port", str(port), "--no-migrate", "--no-embedded-workers"],
                env, log_path, f"{base_url}/api/health",
            ) as process:  # fmt: skip
                ours = Fleet(
                    name="reefguide",
                    dsn=dsn,
                    left_sql=OURS_LEFT,
                    command=[str(reefguide), "worker"],
                    env=ours_env,
                    server_pid=process.pid,
                )

                async def ours_drain(workers: int) -> None:
                    await enqueue_jobs(dsn, analyst_id, args.jobs)
                    result = await drain(ours, workers, args.jobs, logs, args.timeout)
                    await check_drained(dsn, args.jobs)
                    outcome.ours[workers].append(result)
                    print(describe(f"reefguide worker × {workers}", result), flush=True)

                async def peer_drain(workers: int) -> None:
                    await pgqueuer_enqueue(pgq_dsn, args.jobs)
                    result = await drain(peer, workers, args.jobs, logs, args.timeout)
                    ran = sum(
                        int(line.removeprefix("ran ")) for line in result.log_lines if line.startswith("ran ")
                    )
                    await check_pgqueuer_drained(pgq_dsn, args.jobs, ran)
                    others = [line for line in result.log_lines if not line.startswith("ran ")]
                    result = replace(result, log_lines=others)
                    outcome.peer[workers].append(result)
                    print(describe(f"pgqueuer worker × {workers}", result), flush=True)

                async def everything() -> None:
                    for round_ in range(1, args.rounds + 1):
                        print(f"Round {round_} of {args.rounds}: {args.jobs:,} jobs per drain", flush=True)
                        counts = args.workers if round_ % 2 else list(reversed(args.workers))
                        for index, workers in enumerate(counts):
                            # Which goes first alternates, within a round and across rounds.
                            if (round_ + index) % 2:
                                await ours_drain(workers)
                                await peer_drain(workers)
                            else:
                                await peer_drain(workers)
                                await ours_drain(workers)

                asyncio.run(everything())
        except Exception:
            if log_path.exists():
                tail = log_path.read_text(errors="replace").splitlines()[-15:]
                print("The server log's last lines:", *tail, sep="\n  ", file=sys.stderr)
            raise
    return outcome


def median_drain(drains: list[Drain]) -> Drain:
    return sorted(drains, key=lambda drain: drain.rate)[(len(drains) - 1) // 2]


def report(args: argparse.Namespace, outcome: Outcome) -> None:
    medians = f" (medians of {args.rounds} rounds)" if args.rounds > 1 else ""
    print(
        f"\n{args.jobs:,} TEST jobs (duration 0); MAX_CONCURRENT_JOBS {args.max_concurrent}, pgqueuer"
        f" max_concurrent_tasks {args.max_concurrent} and batch {args.max_concurrent // 2}{medians}:"
    )
    row = "{:>8}  {:>12} {:>12} {:>18}  {:>16} {:>16}  {:>13}"
    print(
        row.format(
            "workers", "ours jobs/s", "ours last s", "server CPU ms/job",
            "pgqueuer jobs/s", "pgqueuer last s", "ours/pgqueuer",
        )
    )  # fmt: skip
    for workers in args.workers:
        ours, peer = outcome.ours[workers], outcome.peer[workers]
        ours_rate, peer_rate = median_drain(ours).rate, median_drain(peer).rate
        server_ms = statistics.median((drain.server_cpu_s or 0.0) * 1000 / drain.jobs for drain in ours)
        print(
            row.format(
                workers,
                f"{ours_rate:.0f}",
                f"{statistics.median(drain.last_s for drain in ours):.2f}",
                f"{server_ms:.2f}",
                f"{peer_rate:.0f}",
                f"{statistics.median(drain.last_s for drain in peer):.2f}",
                f"{ours_rate / peer_rate:.2f}",
            )
        )


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
    report(args, outcome)
    return 0


if __name__ == "__main__":
    sys.exit(main())
