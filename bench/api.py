"""Throughput and latency of an authenticated `GET /api/auth/profile`, against a
minimal FastAPI endpoint doing one raw asyncpg `SELECT` of the same user row.

Both are served the same way (uvicorn, one process each, same settings) on the same
fresh PostgreSQL database, and loaded alternately in the same run (baseline, real,
real, baseline, …), because the machine is shared and noisy: the ratio is the figure.
Goal: the real route reaches at least 0.5× the baseline's requests/s, p99 under 50 ms.

    uv run python bench/api.py [--rounds 3] [--duration 10] [--connections 64]

It needs `wrk` (Debian: `apt-get install -y wrk`) and a PostgreSQL server where it may
create a database (`--server-url`, default postgresql://postgres@127.0.0.1:5432/postgres).
Each load is one wrk run, the same for both targets; for the real route:

    wrk -t2 -c64 -d10s --timeout 5s -s <report.lua> \\
        -H 'Authorization: Bearer <token>' http://127.0.0.1:<port>/api/auth/profile

where report.lua prints the request count, non-2xx count and latency percentiles.
The database, the data directory and both servers are gone when it ends.
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
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

BENCH_DIR = Path(__file__).resolve().parent
EMAIL = "bench@example.com"
PASSWORD = "bench-password-123"  # a throwaway account in a throwaway database
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
GOAL_RATIO = 0.5
GOAL_P99_MS = 50.0

# wrk calls done() once at the end; one JSON line is easier to read back than its table.
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


@dataclass(frozen=True)
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    # Connect, read and write errors and timeouts (wrk's --timeout): counted, not fatal.
    socket_errors: int


@dataclass(frozen=True)
class Target:
    name: str
    url: str


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
    name = f"reefguide_bench_{secrets.token_hex(6)}"
    admin_execute(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield asyncpg_dsn(server_url, name)
    finally:
        admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def server(command: list[str], env: dict[str, str], log_path: Path, ready_url: str) -> Iterator[None]:
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
            yield
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def run_wrk(target: Target, token: str, *, duration: int, connections: int, threads: int, lua: Path) -> Load:
    command = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "5s",
        "-s", str(lua), "-H", f"Authorization: Bearer {token}", target.url,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=True)
    line = next((line for line in result.stdout.splitlines() if line.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no report:\n{result.stdout}\n{result.stderr}")
    report = json.loads(line.removeprefix("BENCH "))
    if report["non_2xx"] or not report["requests"]:
        raise SystemExit(f"{target.name}: wrong answers under load: {report}")
    return Load(
        rps=report["requests"] / (report["duration_us"] / 1e6),
        p50_ms=report["p50_us"] / 1000,
        p99_ms=report["p99_us"] / 1000,
        requests=report["requests"],
        socket_errors=report["socket_errors"],
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per target (default 3)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per load (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of unmeasured load first (default 3)")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections (default 64)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--server-url",
        default=os.environ.get("REEFGUIDE_BENCH_SERVER_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL server where the bench may create a database",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench/api.py needs wrk: `apt-get update && apt-get install -y wrk` (Debian/Ubuntu).")
        return 2
    reefguide = Path(sys.executable).with_name("reefguide")

    with (
        tempfile.TemporaryDirectory(prefix="reefguide-bench-") as tmp,
        fresh_database(args.server_url) as dsn,
    ):
        work = Path(tmp)
        lua = work / "report.lua"
        lua.write_text(WRK_REPORT_LUA)
        env = {
            **os.environ,
            "DATABASE_URL": dsn,
            "REEFGUIDE_DATA_DIR": str(work / "data"),
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            "ADMIN_USERNAME": "admin@example.com",
            "ADMIN_PASSWORD": PASSWORD,
        }
        subprocess.run([reefguide, "db", "upgrade"], env=env, check=True, capture_output=True)
        created = subprocess.run(
            [reefguide, "users", "create", EMAIL, "--role", "ANALYST", "--password", PASSWORD],
            env=env, check=True, capture_output=True, text=True,
        )  # fmt: skip
        user_id = created.stdout.split()[2]  # "Created user <id> (…)"

        real_port, minimal_port = free_port(), free_port()
        real_log, minimal_log = work / "real.log", work / "minimal.log"
        real = Target("reefguide", f"http://127.0.0.1:{real_port}/api/auth/profile")
        minimal = Target("minimal", f"http://127.0.0.1:{minimal_port}/user")
        minimal_env = {**env, "BENCH_DATABASE_URL": dsn, "BENCH_USER_ID": user_id}
        with (
            server(
                [str(reefguide), "serve", "--port", str(real_port), "--no-migrate"],
                env, real_log, f"http://127.0.0.1:{real_port}/api/health",
            ),
            server(
                [sys.executable, str(BENCH_DIR / "minimal_app.py"), str(minimal_port)],
                minimal_env, minimal_log, minimal.url,
            ),
        ):  # fmt: skip
            login = httpx.post(
                f"http://127.0.0.1:{real_port}/api/auth/login", json={"email": EMAIL, "password": PASSWORD}
            )
            login.raise_for_status()
            token = login.json()["token"]
            profile = httpx.get(real.url, headers={"Authorization": f"Bearer {token}"})
            profile.raise_for_status()
            assert profile.json()["user"]["email"] == EMAIL, profile.text
            baseline = httpx.get(minimal.url).json()
            assert baseline["user"]["email"] == EMAIL, baseline

            def load(target: Target, seconds: int) -> Load:
                return run_wrk(
                    target,
                    token,
                    duration=seconds,
                    connections=args.connections,
                    threads=args.threads,
                    lua=lua,
                )

            for target in (minimal, real):
                load(target, args.warmup)
            loads: dict[str, list[Load]] = {minimal.name: [], real.name: []}
            print(ROW.format("round", "target", "req/s", "p50 ms", "p99 ms", "errors"), flush=True)
            for round_ in range(1, args.rounds + 1):
                # ABBA: neither target always goes first into a quieter or busier moment.
                order = (minimal, real) if round_ % 2 else (real, minimal)
                for target in order:
                    result = load(target, args.duration)
                    loads[target.name].append(result)
                    print(
                        ROW.format(
                            round_,
                            target.name,
                            f"{result.rps:.0f}",
                            f"{result.p50_ms:.2f}",
                            f"{result.p99_ms:.2f}",
                            result.socket_errors,
                        ),
                        flush=True,
                    )

        # Every answered request wrote its access line (with the user id) to the real server's log.
        access_lines = sum(
            1
            for line in real_log.read_text().splitlines()
            if '"path": "/api/auth/profile"' in line and f'"user_id": {user_id}' in line
        )

    print(f"\nGET /api/auth/profile against one raw asyncpg SELECT, {args.connections} connections,")
    print(f"one process each; medians of {args.rounds} rounds of {args.duration} s:")
    summary = {name: summarise(results) for name, results in loads.items()}
    for name, label in (
        (minimal.name, "minimal (asyncpg SELECT)"),
        (real.name, "reefguide /api/auth/profile"),
    ):
        rps, p50, p99 = summary[name]
        print(f"  {label:<28} {rps:>7.0f} req/s   p50 {p50:>7.2f} ms   p99 {p99:>7.2f} ms")
    ratio = summary[real.name][0] / summary[minimal.name][0]
    real_p99 = summary[real.name][2]
    print(f"  ratio (reefguide / minimal req/s): {ratio:.2f}")
    measured = sum(result.requests for result in loads[real.name])
    print(f"  access log lines with the user id: {access_lines} (measured requests: {measured})")
    met = ratio >= GOAL_RATIO and real_p99 < GOAL_P99_MS
    print(f"  goal (ratio ≥ {GOAL_RATIO}, p99 < {GOAL_P99_MS:.0f} ms): {'met' if met else 'not met'}")
    return 0


ROW = "{:>5}  {:<10} {:>9} {:>8} {:>8} {:>7}"


def summarise(results: list[Load]) -> tuple[float, float, float]:
    return (
        statistics.median(result.rps for result in results),
        statistics.median(result.p50_ms for result in results),
        statistics.median(result.p99_ms for result in results),
    )


if __name__ == "__main__":
    sys.exit(main())
