"""The baseline for bench/spatial.py: the least a FastAPI endpoint can do to answer
with the polygons a user may read, straight from PostgreSQL: plain asyncpg
`SELECT`s written by hand, no auth, no ORM, no logging.

- `GET /polygons?limit=500&offset=0`: one `SELECT count(*)` of the readable polygons,
  one `SELECT` of the page of them with their owners, one of those polygons' notes
  with their authors; the same body as `GET /api/polygons`. (A window count in the
  page's `SELECT` would save a statement but cost more: PostgreSQL then reads and
  sorts every readable row, polygons included, ~28 ms for 10,000 against ~4 ms.)
- `GET /polygons/{id}`: one `SELECT` of the polygon if readable (404 otherwise), one
  of its notes; the same body as `GET /api/polygons/{id}`.

"Readable" is the rule of `reefguide.projects.access` written out in SQL for one
user (`BENCH_USER_ID`, not an admin): their own polygons, and those of projects
they own, that are public, shared with them, or shared with a group they own,
manage or belong to. Every note on a readable polygon is readable.

Served the way `reefguide serve` serves the real app (uvicorn.run, log_config=None,
access_log=False), with the real app's pool size, so the ratio measures our code:

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/db BENCH_USER_ID=1 \\
        python bench/minimal_spatial_app.py 8001
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import uvicorn
from fastapi import FastAPI, HTTPException

# The same pool as the real app's engine: REEFGUIDE_DB_POOL_SIZE (10), no overflow.
POOL_SIZE = 10

# Projects user $1 may read.
READABLE_PROJECTS = """
    SELECT projects.id FROM projects
    WHERE projects.user_id = $1
       OR projects.is_public
       OR projects.id IN (SELECT project_id FROM project_user_shares WHERE user_id = $1)
       OR projects.id IN (
            SELECT project_id FROM project_group_shares
            WHERE group_id IN (
                SELECT id FROM groups WHERE owner_id = $1
                UNION SELECT group_id FROM group_managers WHERE user_id = $1
                UNION SELECT group_id FROM group_members WHERE user_id = $1))
"""
READABLE = f"(polygons.user_id = $1 OR polygons.project_id IN ({READABLE_PROJECTS}))"
COLUMNS = """
    polygons.id, polygons.created_at, polygons.user_id, polygons.project_id, polygons.polygon,
    users.email
"""
COUNT = f"SELECT count(*) FROM polygons WHERE {READABLE}"  # noqa: S608 - built from constants
PAGE = f"""
    SELECT {COLUMNS}
    FROM polygons JOIN users ON users.id = polygons.user_id
    WHERE {READABLE}
    ORDER BY polygons.id LIMIT $2 OFFSET $3
"""  # noqa: S608 - built from constants; values go as $n parameters
ONE = f"""
    SELECT {COLUMNS}
    FROM polygons JOIN users ON users.id = polygons.user_id
    WHERE polygons.id = $2 AND {READABLE}
"""  # noqa: S608 - built from constants; values go as $n parameters
NOTES = """
    SELECT polygon_notes.id, polygon_notes.created_at, polygon_notes.content,
           polygon_notes.user_id, polygon_notes.polygon_id, users.email
    FROM polygon_notes JOIN users ON users.id = polygon_notes.user_id
    WHERE polygon_notes.polygon_id = ANY($1::integer[])
    ORDER BY polygon_notes.created_at, polygon_notes.id
"""


def create_app(database_url: str, user_id: int) -> FastAPI:
    pool: asyncpg.Pool | None = None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(database_url, min_size=POOL_SIZE, max_size=POOL_SIZE)
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(lifespan=lifespan)

    async def with_notes(connection: Any, rows: list[Any]) -> list[dict[str, Any]]:
        polygons: dict[int, dict[str, Any]] = {
            row["id"]: {
                "id": row["id"],
                "created_at": row["created_at"],
                "user_id": row["user_id"],
                "project_id": row["project_id"],
                "polygon": json.loads(row["polygon"]),
                "user": {"id": row["user_id"], "email": row["email"]},
                "notes": [],
            }
            for row in rows
        }
        if polygons:
            for note in await connection.fetch(NOTES, list(polygons)):
                polygons[note["polygon_id"]]["notes"].append(
                    {
                        "id": note["id"],
                        "created_at": note["created_at"],
                        "content": note["content"],
                        "user_id": note["user_id"],
                        "polygon_id": note["polygon_id"],
                        "user": {"id": note["user_id"], "email": note["email"]},
                    }
                )
        return list(polygons.values())

    @app.get("/polygons")
    async def list_polygons(limit: int = 50, offset: int = 0) -> dict[str, Any]:
        assert pool is not None
        limit = min(500, max(1, limit))
        async with pool.acquire() as connection:
            total = await connection.fetchval(COUNT, user_id)
            rows = await connection.fetch(PAGE, user_id, limit, offset)
            polygons = await with_notes(connection, rows)
        return {"polygons": polygons, "pagination": {"total": total, "limit": limit, "offset": offset}}

    @app.get("/polygons/{polygon_id}")
    async def get_polygon(polygon_id: int) -> dict[str, Any]:
        assert pool is not None
        async with pool.acquire() as connection:
            row = await connection.fetchrow(ONE, user_id, polygon_id)
            if row is None:
                raise HTTPException(404, "Polygon not found")
            (polygon,) = await with_notes(connection, [row])
        return {"polygon": polygon}

    return app


def main() -> None:
    port = int(sys.argv[1])
    app = create_app(os.environ["BENCH_DATABASE_URL"], int(os.environ["BENCH_USER_ID"]))
    # As in `reefguide serve` (src/reefguide/cli.py).
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=30,
    )


if __name__ == "__main__":
    main()
