"""The baseline for bench/api.py: the least a FastAPI endpoint can do to answer with a
user row from PostgreSQL (one raw asyncpg `SELECT`, no auth, no ORM, no logging).

Served the way `reefguide serve` serves the real app (uvicorn.run, log_config=None,
access_log=False), so the ratio measures our code and nothing else:

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/db BENCH_USER_ID=1 \\
        python bench/minimal_app.py 8001
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
from fastapi import FastAPI

# The same pool as the real app's engine: REEFGUIDE_DB_POOL_SIZE (10), no overflow.
POOL_SIZE = 10


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

    @app.get("/user")
    async def user() -> dict[str, Any]:
        assert pool is not None
        async with pool.acquire() as connection:
            row = await connection.fetchrow("SELECT id, email, roles FROM users WHERE id = $1", user_id)
        assert row is not None
        return {"user": {"id": row["id"], "email": row["email"], "roles": json.loads(row["roles"])}}

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
