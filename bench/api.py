"""Throughput and latency of an authenticated `GET /api/auth/profile`, against a
minimal FastAPI endpoint doing one raw asyncpg `SELECT` of the same user row.

Both are served the same way (uvicorn, one process each, same settings) on the same
fresh PostgreSQL database, and loaded alternately in the same run (baseline, real,
real, baseline, …), because the machine is shared and noisy: the ratio is the figure.
Goal: the real route reaches at least 0.5× the baseline's requests/s, p99 under 50 ms.
Each server's CPU per request (from /proc) is printed too: with one process each,
it is what bounds the throughput, and it moves less with the hour than req/s do.

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
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from harness import (
    BENCH_DIR,
    WRK_REPORT_LUA,
    Load,
    Target,
    add_load_arguments,
    cpu_seconds,
    free_port,
    fresh_database,
    have_wrk,
    interleaved_rounds,
    run_wrk,
    server,
    summarise,
    wait_idle,
)

EMAIL = "bench@example.com"
PASSWORD = "bench-password-123"  # a throwaway account in a throwaway database
GOAL_RATIO = 0.5
GOAL_P99_MS = 50.0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_load_arguments(parser, connections=64)
    args = parser.parse_args()
    if not have_wrk("bench/api.py"):
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
                [str(reefguide), "serve", "--port", str(real_port), "--no-migrate", "--no-embedded-workers"],
                env, real_log, f"http://127.0.0.1:{real_port}/api/health",
            ) as real_server,
            server(
                [sys.executable, str(BENCH_DIR / "minimal_app.py"), str(minimal_port)],
                minimal_env, minimal_log, minimal.url,
            ) as minimal_server,
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

            pids = {real.name: real_server.pid, minimal.name: minimal_server.pid}
            # Each load's server CPU per request, in µs: one process each, so its
            # throughput is bound by this (the figure that moves least with the hour).
            cpu_per_request: dict[str, list[float]] = {real.name: [], minimal.name: []}

            def load(target: Target, seconds: int) -> Load:
                before = cpu_seconds(pids[target.name])
                result = run_wrk(
                    target,
                    token,
                    duration=seconds,
                    connections=args.connections,
                    threads=args.threads,
                    lua=lua,
                )
                # The requests wrk left in flight are this load's work too.
                wait_idle([pids[target.name]])
                used = cpu_seconds(pids[target.name]) - before
                cpu_per_request[target.name].append(used / result.requests * 1e6)
                return result

            loads = interleaved_rounds(
                [(minimal, real)], load, rounds=args.rounds, duration=args.duration, warmup=args.warmup
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
        cpu = statistics.median(cpu_per_request[name][-args.rounds :])  # without the warm-up
        print(
            f"  {label:<28} {rps:>7.0f} req/s   p50 {p50:>7.2f} ms   p99 {p99:>7.2f} ms"
            f"   server CPU {cpu:>4.0f} µs/request"
        )
    ratio = summary[real.name][0] / summary[minimal.name][0]
    real_p99 = summary[real.name][2]
    print(f"  ratio (reefguide / minimal req/s): {ratio:.2f}")
    cpu_ratio = statistics.median(cpu_per_request[minimal.name][-args.rounds :]) / statistics.median(
        cpu_per_request[real.name][-args.rounds :]
    )
    print(f"  server CPU per request, minimal / reefguide: {cpu_ratio:.2f} (one process each: bounds req/s)")
    measured = sum(result.requests for result in loads[real.name])
    print(f"  access log lines with the user id: {access_lines} (measured requests: {measured})")
    met = ratio >= GOAL_RATIO and real_p99 < GOAL_P99_MS
    print(f"  goal (ratio ≥ {GOAL_RATIO}, p99 < {GOAL_P99_MS:.0f} ms): {'met' if met else 'not met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
