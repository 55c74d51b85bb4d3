"""Throughput and latency of `GET /api/polygons?limit=500` and `GET /api/polygons/{id}`
for an analyst who may read 10,000 polygons in 100 projects, half of those projects
shared with them through groups, at 32 connections on PostgreSQL, against a minimal
FastAPI app reading the same rows with plain asyncpg `SELECT`s (count, page, notes;
bench/minimal_spatial_app.py): the benchmark of issue 3.

The data, on a fresh PostgreSQL database migrated with `reefguide db upgrade`: four
analysts created with `reefguide users create`, the benchmark user and three others.
Through the API, the benchmark user creates 50 projects and the three others 50
between them, each of which its owner shares with a group it owns; the benchmark
user is a member of two of those groups and a manager of the third. Then 10,000
polygons (GeoJSON Polygons and MultiPolygons of 8–24 positions a ring around the
Great Barrier Reef, each passed through the service's own `check_polygon`), 100 in
each project and owned by its owner, and a note on every seventh, are inserted in
bulk through the service's models, the projects taken in turn so that a page holds
both the user's own polygons and shared ones; then VACUUM ANALYZE. The benchmark
user may read every polygon: half as their owner, half through a group.
`GET /api/polygons/{id}` reads one past the middle: another analyst's, with a note.

Both apps are served the same way (uvicorn, one process each, same settings, a pool
of 10 connections: issue 3's "the same connection pool" read as the same pool, as
bench/api.py does) and loaded alternately in the same run (baseline, real, real,
baseline, … for each route), because the machine is shared and noisy: the ratio is
the figure. Before the load, the real and baseline bodies of both routes are checked
to be equal. After each load it waits until both servers are idle, since wrk leaves
requests in flight (32 pages of 500 polygons are seconds of work) that would
otherwise be charged to the next load.

    uv run python bench/spatial.py [--rounds 3] [--duration 10] [--connections 32]

It needs `wrk` (Debian: `apt-get install -y wrk`) and a PostgreSQL server where it may
create a database (`--server-url`, default postgresql://postgres@127.0.0.1:5432/postgres).
Each load is one wrk run, the same for both targets; for the real list route:

    wrk -t2 -c32 -d10s --timeout 5s -s <report.lua> \\
        -H 'Authorization: Bearer <token>' 'http://127.0.0.1:<port>/api/polygons?limit=500'

where report.lua counts every answer outside 2xx and prints the request count and
latency percentiles. Any answer outside 2xx, warm-up included, fails the run (exit 1);
socket errors and timeouts are counted and printed, as in bench/api.py. With the
defaults it takes about three minutes. The database, the data directory and both
servers are gone when it ends.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import insert

from harness import (
    BENCH_DIR,
    WRK_STRICT_REPORT_LUA,
    Load,
    Target,
    add_load_arguments,
    free_port,
    fresh_database,
    have_wrk,
    interleaved_rounds,
    run_wrk,
    server,
    summarise,
    wait_idle,
)

# The models come from the module that registers them all, so foreign keys' types resolve.
from reefguide.db.engine import create_engine
from reefguide.db.models import Polygon, PolygonNote
from reefguide.spatial.geometry import check_polygon

PASSWORD = "bench-password-123"  # throwaway accounts in a throwaway database
BENCH_EMAIL = "bench@example.com"
OWNER_EMAILS = ("analyst1@example.com", "analyst2@example.com", "analyst3@example.com")
PROJECTS = 100
POLYGONS = 10_000
NOTE_EVERY = 7
PAGE_LIMIT = 500
MAX_POSITIONS = 100_000  # MAX_POLYGON_VERTICES' default
SEED = 20_240_601


@dataclass(frozen=True)
class Seeded:
    bench_user_id: int
    polygon_id: int  # the one GET /api/polygons/{id} reads: another analyst's, shared through a group
    polygons: int
    notes: int


# Accounts and sharing, through the CLI and the API.


def create_users(reefguide: Path, env: dict[str, str]) -> dict[str, int]:
    """The four analysts, created at once with `reefguide users create`; their ids by email."""
    processes = {
        email: subprocess.Popen(
            [reefguide, "users", "create", email, "--role", "ANALYST", "--password", PASSWORD],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for email in (BENCH_EMAIL, *OWNER_EMAILS)
    }
    ids: dict[str, int] = {}
    for email, process in processes.items():
        out, err = process.communicate(timeout=120)
        if process.returncode != 0:
            raise SystemExit(f"reefguide users create {email} failed:\n{out}{err}")
        ids[email] = int(out.split()[2])  # "Created user <id> (…)"
    return ids


def login(api: httpx.Client, email: str) -> dict[str, str]:
    response = api.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['token']}"}


def post(api: httpx.Client, path: str, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(path, json=body, headers=headers)
    if not response.is_success:
        raise SystemExit(f"POST {path}: {response.status_code} {response.text}")
    answer: dict[str, Any] = response.json()
    return answer


def create_projects(api: httpx.Client, ids: dict[str, int]) -> tuple[list[tuple[int, int]], str]:
    """Groups, projects and group shares through the API, as analysts would make them.

    Returns the 100 projects as (project id, owner id), the benchmark user's own and
    the shared ones in turn, and the benchmark user's access token. (One login per
    analyst: the login route allows five a client in 15 minutes.)"""
    bench_id = ids[BENCH_EMAIL]
    headers = {email: login(api, email) for email in (BENCH_EMAIL, *OWNER_EMAILS)}
    groups: dict[str, int] = {}
    for index, owner in enumerate(OWNER_EMAILS):
        group = post(
            api, "/api/groups", headers[owner],
            {"name": f"Reef team {index + 1}", "description": f"{owner}'s survey team"},
        )["group"]  # fmt: skip
        groups[owner] = group["id"]
        others = [ids[email] for email in OWNER_EMAILS if email != owner]
        # The benchmark user belongs to the first two groups and manages the third.
        if index < len(OWNER_EMAILS) - 1:
            others.append(bench_id)
        else:
            post(api, f"/api/groups/{group['id']}/managers", headers[owner], {"userIds": [bench_id]})
        post(api, f"/api/groups/{group['id']}/members", headers[owner], {"userIds": others})

    def project(email: str, number: int) -> int:
        created = post(
            api, "/api/projects", headers[email],
            {
                "name": f"Site selection {number}",
                "description": f"Candidate restoration sites, survey {number}",
                "type": "SITE_SELECTION" if number % 3 else "ADRIA_ANALYSIS",
                "project_state": {"zoom": 9, "center": [146.5, -18.5], "layers": ["reefs", "depth"]},
            },
        )["project"]  # fmt: skip
        project_id: int = created["id"]
        return project_id

    projects: list[tuple[int, int]] = []
    for number in range(1, PROJECTS // 2 + 1):
        projects.append((project(BENCH_EMAIL, number), bench_id))
        owner = OWNER_EMAILS[number % len(OWNER_EMAILS)]
        shared = project(owner, number)
        post(api, f"/api/projects/{shared}/share/groups", headers[owner], {"groupIds": [groups[owner]]})
        projects.append((shared, ids[owner]))
    return projects, headers[BENCH_EMAIL]["Authorization"].removeprefix("Bearer ")


# Polygons and notes, in bulk through the service's models.


def reef_polygon(rng: random.Random) -> dict[str, Any]:
    """A star-shaped (so simple) ring of 8–24 positions, or two of them as a MultiPolygon."""

    def ring(lon: float, lat: float) -> list[list[float]]:
        # Angles evenly spread and jittered within their own slice, radii at least 0.003°:
        # neighbours stay far apart after rounding to 6 decimals, so the ring never crosses.
        count = rng.randint(8, 24)
        radius = rng.uniform(0.005, 0.04)
        slice_ = 2 * math.pi / count
        positions = []
        for step in range(count):
            angle = slice_ * (step + rng.uniform(-0.3, 0.3))
            r = radius * rng.uniform(0.6, 1.0)
            positions.append([round(lon + r * math.cos(angle), 6), round(lat + r * math.sin(angle), 6)])
        return [*positions, positions[0]]

    lon, lat = rng.uniform(142.5, 153.0), rng.uniform(-24.0, -10.5)
    if rng.random() < 0.9:
        return {"type": "Polygon", "coordinates": [ring(lon, lat)]}
    return {"type": "MultiPolygon", "coordinates": [[ring(lon, lat)], [ring(lon + 0.1, lat - 0.1)]]}


async def insert_polygons(dsn: str, projects: list[tuple[int, int]], bench_id: int) -> Seeded:
    rng = random.Random(SEED)
    start = datetime.now(UTC) - timedelta(days=30)
    rows: list[dict[str, Any]] = []
    for index in range(POLYGONS):
        project_id, owner_id = projects[index % len(projects)]
        geometry = reef_polygon(rng)
        check_polygon(geometry, max_positions=MAX_POSITIONS)
        created = start + timedelta(seconds=index * 60)
        rows.append(
            {
                "user_id": owner_id,
                "project_id": project_id,
                "polygon": geometry,
                "created_at": created,
                "updated_at": created,
            }
        )
    engine = create_engine(dsn, pool_size=1)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(
                insert(Polygon).returning(Polygon.id, sort_by_parameter_order=True), rows
            )
            polygon_ids = list(result.scalars())
            notes = [
                {
                    "content": f"Surveyed {rng.choice(['healthy', 'bleached', 'recovering'])} coral; "
                    f"revisit in {rng.randint(2, 12)} months.",
                    # Alternately the polygon's owner and the benchmark user.
                    "user_id": rows[index]["user_id"] if (index // NOTE_EVERY) % 2 else bench_id,
                    "polygon_id": polygon_ids[index],
                    "created_at": rows[index]["created_at"] + timedelta(hours=1),
                    "updated_at": rows[index]["created_at"] + timedelta(hours=1),
                }
                for index in range(NOTE_EVERY // 2, POLYGONS, NOTE_EVERY)
            ]
            await connection.execute(insert(PolygonNote), notes)
    finally:
        await engine.dispose()
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    # Past the middle: another analyst's polygon (readable through a group) with a note.
    read = next(
        index
        for index in range(POLYGONS // 2, POLYGONS)
        if rows[index]["user_id"] != bench_id and index % NOTE_EVERY == NOTE_EVERY // 2
    )
    return Seeded(bench_id, polygon_ids[read], len(polygon_ids), len(notes))


def check_same(name: str, real: httpx.Response, baseline: httpx.Response) -> tuple[Any, int]:
    """The real body (parsed) and its size, once it is known to be the baseline's."""
    if real.status_code != 200 or baseline.status_code != 200:
        raise SystemExit(f"{name}: reefguide {real.status_code}, minimal {baseline.status_code}")
    body = real.json()
    if body != baseline.json():
        raise SystemExit(f"{name}: the real and baseline bodies differ")
    return body, len(real.content)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_load_arguments(parser, connections=32)
    args = parser.parse_args()
    if not have_wrk("bench/spatial.py"):
        return 2
    reefguide = Path(sys.executable).with_name("reefguide")
    started = time.monotonic()

    with (
        tempfile.TemporaryDirectory(prefix="reefguide-bench-") as tmp,
        fresh_database(args.server_url) as dsn,
    ):
        work = Path(tmp)
        lua = work / "report.lua"
        lua.write_text(WRK_STRICT_REPORT_LUA)
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
        ids = create_users(reefguide, env)

        real_port, minimal_port = free_port(), free_port()
        real_base, minimal_base = f"http://127.0.0.1:{real_port}", f"http://127.0.0.1:{minimal_port}"
        with server(
            [str(reefguide), "serve", "--port", str(real_port), "--no-migrate", "--no-embedded-workers"],
            env, work / "real.log", f"{real_base}/api/health",
        ) as real_server:  # fmt: skip
            with httpx.Client(base_url=real_base, timeout=30.0) as api:
                projects, token = create_projects(api, ids)
            seeded = asyncio.run(insert_polygons(dsn, projects, ids[BENCH_EMAIL]))
            print(
                f"Seeded {seeded.polygons:,} polygons and {seeded.notes:,} notes in {len(projects)} "
                f"projects, half shared with {BENCH_EMAIL} through groups "
                f"(set up in {time.monotonic() - started:.0f} s).",
                flush=True,
            )

            routes = {
                "list": (f"/api/polygons?limit={PAGE_LIMIT}", f"/polygons?limit={PAGE_LIMIT}"),
                "get": (f"/api/polygons/{seeded.polygon_id}", f"/polygons/{seeded.polygon_id}"),
            }
            pairs = [
                (
                    Target(f"minimal {route}", minimal_base + minimal_path),
                    Target(f"reefguide {route}", real_base + real_path),
                )
                for route, (real_path, minimal_path) in routes.items()
            ]
            minimal_env = {
                **env,
                "BENCH_DATABASE_URL": dsn,
                "BENCH_USER_ID": str(seeded.bench_user_id),
            }
            with server(
                [sys.executable, str(BENCH_DIR / "minimal_spatial_app.py"), str(minimal_port)],
                minimal_env, work / "minimal.log", f"{minimal_base}/polygons?limit=1",
            ) as minimal_server:  # fmt: skip
                headers = {"Authorization": f"Bearer {token}"}
                (base_list, real_list), (base_get, real_get) = pairs
                page, page_bytes = check_same(
                    "list",
                    httpx.get(real_list.url, headers=headers, timeout=30.0),
                    httpx.get(base_list.url, timeout=30.0),
                )
                assert len(page["polygons"]) == PAGE_LIMIT, page["pagination"]
                assert page["pagination"]["total"] == POLYGONS, page["pagination"]
                shared = sum(polygon["user_id"] != seeded.bench_user_id for polygon in page["polygons"])
                assert 0 < shared < PAGE_LIMIT, shared
                one, _ = check_same(
                    "get",
                    httpx.get(real_get.url, headers=headers, timeout=30.0),
                    httpx.get(base_get.url, timeout=30.0),
                )
                assert one["polygon"]["user_id"] != seeded.bench_user_id, one
                assert one["polygon"]["notes"], one

                every: list[Load] = []  # warm-up included: every answer must be 2xx

                def load(target: Target, seconds: int) -> Load:
                    result = run_wrk(
                        target,
                        token,
                        duration=seconds,
                        connections=args.connections,
                        threads=args.threads,
                        lua=lua,
                        fail_on_non_2xx=False,
                    )
                    every.append(result)
                    # Let both servers finish the requests wrk left in flight before the next load.
                    wait_idle([real_server.pid, minimal_server.pid])
                    return result

                loads = interleaved_rounds(
                    pairs,
                    load,
                    rounds=args.rounds,
                    duration=args.duration,
                    warmup=args.warmup,
                    show_non_2xx=True,
                )

    print(
        f"\nAs an analyst reading {POLYGONS:,} polygons in {PROJECTS} projects (half through groups), "
        f"{args.connections} connections,"
    )
    print(f"one process each; medians of {args.rounds} rounds of {args.duration} s:")
    labels = {
        "list": f"GET /api/polygons?limit={PAGE_LIMIT} ({len(page['polygons'])} polygons, "
        f"{page_bytes // 1024} KiB)",
        "get": "GET /api/polygons/{id} (another analyst's, through a group, with notes)",
    }
    for (baseline, real), (route, label) in zip(pairs, labels.items(), strict=True):
        print(f"  {label}")
        summary = {target.name: summarise(loads[target.name]) for target in (baseline, real)}
        for target, name in ((baseline, "minimal (asyncpg SELECTs)"), (real, "reefguide")):
            rps, p50, p99 = summary[target.name]
            print(f"    {name:<26} {rps:>7.0f} req/s   p50 {p50:>8.2f} ms   p99 {p99:>8.2f} ms")
        ratio = summary[real.name][0] / summary[baseline.name][0]
        print(f"    ratio (reefguide / minimal req/s, {route}): {ratio:.2f}")
    non_2xx = sum(result.non_2xx for result in every)
    socket_errors = sum(result.socket_errors for result in every)
    requests = sum(result.requests for result in every)
    print(f"  answers outside 2xx: {non_2xx} of {requests:,} requests (warm-up included)")
    print(f"  socket errors and timeouts (counted, not fatal): {socket_errors}")
    if non_2xx:
        print("FAILED: some answers were not 2xx.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
