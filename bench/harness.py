"""What the benchmarks in bench/ share: a throwaway PostgreSQL database, servers
started and stopped around a block, wrk runs read back through a Lua reporter,
interleaved rounds (baseline, real, real, baseline, …) summarised by their medians,
and for the queue benches the accounts, the pre-enqueued TEST jobs (ours and
pgqueuer's) and the check that each ran once.

Not a benchmark itself: the others import it (each runs as
`uv run python bench/<name>.py`, which puts bench/ on the import path).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

# The models come from the module that registers them all, so foreign keys' types resolve.
from reefguide.db.engine import create_engine
from reefguide.db.models import Job, JobRequest
from reefguide.jobs.hashing import job_hash
from reefguide.jobs.types import get_job_type

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SERVER_URL_ENV = "REEFGUIDE_BENCH_SERVER_URL"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
PASSWORD = "bench-password-123"  # throwaway accounts in a throwaway database
WORKER_EMAIL = "worker@example.com"
ANALYST_EMAIL = "analyst@example.com"
JOB_TYPE = "TEST"
PGQ_ENTRYPOINT = "noop"

# wrk calls done() once at the end; one JSON line is easier to read back than its table.
# "non_2xx" here is wrk's own count of statuses above 399.
WRK_REPORT_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, '
    .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""

# The same report, with "non_2xx" counting every answer outside 200–299 (wrk itself
# only counts those above 399): each wrk thread counts in response(), done() adds
# the threads' counts up. Defining response() makes wrk hand each answer to Lua, the
# same small cost for the baseline and the real server.
WRK_STRICT_REPORT_LUA = """
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non_2xx = 0
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non_2xx = non_2xx + 1
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("non_2xx") or 0)
  end
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, '
    .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\\n',
    summary.requests, summary.duration, bad, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True)
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    # Connect, read and write errors and timeouts (wrk's --timeout): counted, not fatal.
    socket_errors: int
    # Answers outside 2xx (or above 399, with WRK_REPORT_LUA); 0 when run_wrk fails on them.
    non_2xx: int = 0


@dataclass(frozen=True)
class Target:
    name: str
    url: str


def add_load_arguments(parser: argparse.ArgumentParser, *, connections: int) -> None:
    """The options every wrk-driven bench takes."""
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per target (default 3)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per load (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of unmeasured load first (default 3)")
    parser.add_argument(
        "--connections", type=int, default=connections, help=f"concurrent connections (default {connections})"
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--server-url",
        default=os.environ.get(SERVER_URL_ENV, DEFAULT_SERVER_URL),
        help="a PostgreSQL server where the bench may create a database",
    )


def have_wrk(bench: str) -> bool:
    if shutil.which("wrk") is None:
        print(f"{bench} needs wrk: `apt-get update && apt-get install -y wrk` (Debian/Ubuntu).")
        return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def asyncpg_dsn(url: str, database: str) -> str:
    return make_url(url).set(drivername="postgresql", database=database).render_as_string(hide_password=False)


def admin_execute(server_url: str, statement: str) -> None:
    async def run() -> None:
        dsn = asyncpg_dsn(server_url, make_url(server_url).database or "postgres")
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new database on `server_url` (its asyncpg DSN), dropped at the end."""
    name = f"reefguide_bench_{secrets.token_hex(6)}"
    admin_execute(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield asyncpg_dsn(server_url, name)
    finally:
        admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def server(
    command: list[str], env: dict[str, str], log_path: Path, ready_url: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A server process in its own session, up until `ready_url` answers, stopped at the end."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + READY_TIMEOUT_S
            while True:
                if process.poll() is not None:
                    raise SystemExit(f"{command[0]} exited with {process.returncode}; see {log_path}")
                with suppress(httpx.HTTPError):
                    if httpx.get(ready_url, timeout=1.0).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise SystemExit(f"{ready_url} not ready after {READY_TIMEOUT_S:.0f} s; see {log_path}")
                time.sleep(0.1)
            yield process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (Linux /proc)."""
    # The fields after "(comm)": state is the 1st, utime the 12th, stime the 13th.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_cpu_seconds() -> float | None:
    """CPU time PostgreSQL's processes on this machine have used so far, including
    backends that have exited (their time is the postmaster's children's), or None
    when none runs here (no /proc, or a remote server)."""
    total, found = 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, _, rest = stat.read_text().rpartition(")")
        except OSError:  # gone since the listing
            continue
        if head.partition("(")[2] not in {"postgres", "postmaster"}:
            continue
        found = True
        # After "(comm)": utime, stime, cutime, cstime are the 12th to 15th fields.
        total += sum(int(value) for value in rest.split()[11:15])
    return total / os.sysconf("SC_CLK_TCK") if found else None


def wait_idle(pids: Sequence[int], *, window_s: float = 0.25, timeout_s: float = 60.0) -> float:
    """Wait until the processes `pids` use (almost) no CPU over `window_s`; the seconds waited.

    wrk stops with requests still in flight, and the server goes on answering them
    after it has gone: a slow route leaves seconds of work behind, which would be
    charged to whatever load comes next. No-op without /proc."""
    if not Path("/proc/self/stat").exists():
        return 0.0
    started = time.monotonic()
    busy = 2 / os.sysconf("SC_CLK_TCK")  # two clock ticks: idle, give or take timer noise
    before = sum(cpu_seconds(pid) for pid in pids)
    while time.monotonic() - started < timeout_s:
        time.sleep(window_s)
        after = sum(cpu_seconds(pid) for pid in pids)
        if after - before <= busy:
            break
        before = after
    return time.monotonic() - started


def run_wrk(
    target: Target,
    token: str,
    *,
    duration: int,
    connections: int,
    threads: int,
    lua: Path,
    fail_on_non_2xx: bool = True,
) -> Load:
    """One wrk run against `target` with the bearer `token`. A run with no requests
    always fails; one with wrong answers fails unless `fail_on_non_2xx` is false, in
    which case they are counted in `Load.non_2xx` for the caller to report."""
    command = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "5s",
        "-s", str(lua), "-H", f"Authorization: Bearer {token}", target.url,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=True)
    line = next((line for line in result.stdout.splitlines() if line.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no report:\n{result.stdout}\n{result.stderr}")
    report = json.loads(line.removeprefix("BENCH "))
    if (fail_on_non_2xx and report["non_2xx"]) or not report["requests"]:
        raise SystemExit(f"{target.name}: wrong answers under load: {report}")
    return Load(
        rps=report["requests"] / (report["duration_us"] / 1e6),
        p50_ms=report["p50_us"] / 1000,
        p99_ms=report["p99_us"] / 1000,
        requests=report["requests"],
        socket_errors=report["socket_errors"],
        non_2xx=report["non_2xx"],
    )


ROW = "{:>5}  {:<10} {:>9} {:>8} {:>8} {:>7}"


def interleaved_rounds(
    pairs: Sequence[tuple[Target, Target]],
    load: Callable[[Target, int], Load],
    *,
    rounds: int,
    duration: int,
    warmup: int,
    show_non_2xx: bool = False,
) -> dict[str, list[Load]]:
    """Load each (baseline, real) pair `rounds` times, alternating which goes first,
    after `warmup` seconds of unmeasured load on every target; print one row per load.

    `load(target, seconds)` runs one load. Returns each target's loads by name."""
    targets = [target for pair in pairs for target in pair]
    width = max(10, *(len(target.name) for target in targets))
    row = ROW.replace("{:<10}", f"{{:<{width}}}") + (" {:>7}" if show_non_2xx else "")

    def print_row(*cells: object) -> None:
        print(row.format(*(cells if show_non_2xx else cells[:-1])), flush=True)

    for target in targets:
        load(target, warmup)
    loads: dict[str, list[Load]] = {target.name: [] for target in targets}
    print_row("round", "target", "req/s", "p50 ms", "p99 ms", "errors", "non-2xx")
    for round_ in range(1, rounds + 1):
        for baseline, real in pairs:
            # ABBA: neither target always goes first into a quieter or busier moment.
            order = (baseline, real) if round_ % 2 else (real, baseline)
            for target in order:
                result = load(target, duration)
                loads[target.name].append(result)
                print_row(
                    round_,
                    target.name,
                    f"{result.rps:.0f}",
                    f"{result.p50_ms:.2f}",
                    f"{result.p99_ms:.2f}",
                    result.socket_errors,
                    result.non_2xx,
                )
    return loads


def summarise(results: list[Load]) -> tuple[float, float, float]:
    """Median req/s, p50 and p99 (ms) of a target's rounds."""
    return (
        statistics.median(result.rps for result in results),
        statistics.median(result.p50_ms for result in results),
        statistics.median(result.p99_ms for result in results),
    )


def parse_workers(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of worker counts: {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"not a list of worker counts: {text!r}")
    return counts


class BenchError(Exception):
    """A wrong answer or a broken invariant: the run stops with exit status 1."""


def bench_errors(group: BaseExceptionGroup[BenchError]) -> list[str]:
    messages = []
    for error in group.exceptions:
        messages.extend(bench_errors(error) if isinstance(error, BaseExceptionGroup) else [str(error)])
    return messages


# The job queues: accounts and TEST jobs for ours, no-op jobs for pgqueuer.


def create_user(reefguide: Path, env: dict[str, str], email: str, role: str) -> int:
    created = subprocess.run(
        [reefguide, "users", "create", email, "--role", role, "--password", PASSWORD],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if created.returncode != 0:
        raise BenchError(f"reefguide users create {email} failed:\n{created.stdout}{created.stderr}")
    return int(created.stdout.split()[2])  # "Created user <id> (…)"


async def enqueue_jobs(dsn: str, user_id: int, count: int) -> None:
    """An empty queue, then `count` PENDING TEST jobs (inputs {id: 1…count}) and their
    requests, inserted as `POST /api/jobs` would have created them; VACUUM ANALYZE."""
    job_type = get_job_type(JOB_TYPE)
    assert job_type is not None
    now = datetime.now(UTC)
    jobs: list[dict[str, Any]] = []
    for number in range(1, count + 1):
        payload = job_type.parse_input({"id": number})
        jobs.append(
            {
                "type": job_type.name,
                "status": "PENDING",
                "hash": job_hash(job_type.name, payload),
                "user_id": user_id,
                "input_payload": payload,
                "priority": job_type.priority,
                "max_attempts": job_type.max_attempts,
                "created_at": now,
                "updated_at": now,
            }
        )
    engine = create_engine(dsn, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("TRUNCATE job_results, job_assignments, job_requests, jobs RESTART IDENTITY")
            )
            result = await connection.execute(
                insert(Job).returning(Job.id, sort_by_parameter_order=True), jobs
            )
            requests = [
                {
                    "user_id": user_id,
                    "type": job_type.name,
                    "input_payload": job["input_payload"],
                    "cache_hit": False,
                    "job_id": job_id,
                    "created_at": now,
                }
                for job, job_id in zip(jobs, result.scalars(), strict=True)
            ]
            await connection.execute(insert(JobRequest), requests)
    finally:
        await engine.dispose()
    await vacuum_analyze(dsn)


async def check_drained(dsn: str, count: int) -> None:
    """Every job SUCCEEDED after exactly one attempt: one assignment, one result each."""
    connection = await asyncpg.connect(dsn)
    try:
        row = await connection.fetchrow(
            """
            SELECT
              (SELECT count(*) FROM jobs) AS jobs,
              (SELECT count(*) FROM jobs WHERE status = 'SUCCEEDED' AND attempt_count = 1) AS succeeded,
              (SELECT count(*) FROM job_assignments) AS assignments,
              (SELECT count(DISTINCT job_id) FROM job_assignments
                WHERE outcome = 'SUCCEEDED' AND completed_at IS NOT NULL) AS succeeded_assignments,
              (SELECT count(*) FROM job_results) AS results,
              (SELECT count(DISTINCT job_id) FROM job_results) AS result_jobs
            """
        )
    finally:
        await connection.close()
    counts = dict(row)
    if any(value != count for value in counts.values()):
        raise BenchError(f"after the drain, expected {count} of each: {counts}")


async def vacuum_analyze(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def pgqueuer_enqueue(dsn: str, count: int) -> None:
    """pgqueuer's schema (its own installer) if missing, an empty queue, log and
    statistics, then `count` jobs for PGQ_ENTRYPOINT in one call; VACUUM ANALYZE."""
    # Imported here, not above: pgqueuer imports logging.handlers, which imports the
    # standard library's `queue`, and a bench that has not moved bench/ (where
    # queue.py stands) to the end of the import path would get the wrong one.
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.queries import Queries

    connection = await asyncpg.connect(dsn)
    try:
        queries = Queries(AsyncpgDriver(connection))
        if not await queries.schema_is_installed():
            await queries.install()
        await queries.clear_queue()
        await queries.clear_queue_log()
        await queries.clear_statistics_log()
        payloads: list[bytes | None] = [None] * count
        await queries.enqueue([PGQ_ENTRYPOINT] * count, payloads, [0] * count)
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]
