"""The queue's hot statements on PostgreSQL, as SQL text passed straight to asyncpg.

A busy fleet claims and completes jobs a hundred at a time; compiling those
statements and processing a hundred rows of parameters through SQLAlchemy cost
more than PostgreSQL takes to run them. These do the same as their Core
counterparts in queue.py (used on SQLite), with arrays instead of row-by-row
parameters; the tests run every queue rule on both databases.

They run on the session's connection, inside its transaction
(`exec_driver_sql` goes through SQLAlchemy's adapter, which begins it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

CLAIM = """
WITH picked AS MATERIALIZED (
    SELECT id FROM jobs
    WHERE type = ANY($1::varchar[]) AND status = 'PENDING'
      AND (run_after IS NULL OR run_after <= $2) AND attempt_count < max_attempts
    ORDER BY priority DESC, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
UPDATE jobs SET status = 'IN_PROGRESS', attempt_count = jobs.attempt_count + 1, updated_at = $2
FROM picked
WHERE jobs.id = picked.id AND jobs.status = 'PENDING'
RETURNING jobs.*
"""

INSERT_ASSIGNMENTS = """
INSERT INTO job_assignments (
    job_id, attempt, lease_token_hash, expires_at, deadline, storage_uri,
    claimed_by_user_id, worker_id, ecs_task_arn, ecs_cluster_arn, storage_scheme, created_at, updated_at
)
SELECT job_id, attempt, lease_token_hash, expires_at, deadline, storage_uri, $7, $8, $9, $10, $11, $12, $12
FROM unnest($1::int[], $2::int[], $3::varchar[], $4::timestamptz[], $5::timestamptz[], $6::text[])
    AS v(job_id, attempt, lease_token_hash, expires_at, deadline, storage_uri)
RETURNING id, job_id
"""

END_LEASES = """
UPDATE job_assignments AS a SET completed_at = $1, outcome = 'SUCCEEDED', updated_at = $1
FROM unnest($2::int[], $3::varchar[]) AS v(id, lease_token_hash)
WHERE a.id = v.id AND a.lease_token_hash = v.lease_token_hash
  AND a.completed_at IS NULL AND a.expires_at > $1
RETURNING a.id, a.job_id, a.storage_scheme, a.storage_uri
"""

FINISH_JOBS = """
UPDATE jobs SET status = CASE WHEN cancel_requested THEN 'CANCELLED' ELSE 'SUCCEEDED' END, updated_at = $1
WHERE id = ANY($2::int[]) AND status = 'IN_PROGRESS'
RETURNING id, type, status, user_id, updated_at
"""

INSERT_RESULTS = """
INSERT INTO job_results (
    job_id, assignment_id, result_payload, storage_scheme, storage_uri, cache_valid, created_at
)
SELECT job_id, assignment_id, result_payload, storage_scheme, storage_uri, true, $1
FROM unnest($2::int[], $3::int[], $4::jsonb[], $5::varchar[], $6::text[])
    AS v(job_id, assignment_id, result_payload, storage_scheme, storage_uri)
"""


def is_postgres(connection: AsyncConnection) -> bool:
    return connection.dialect.name == "postgresql"


async def claim(
    connection: AsyncConnection, *, job_types: Sequence[str], limit: int, now: datetime
) -> Sequence[Row[Any]]:
    result = await connection.exec_driver_sql(CLAIM, (list(job_types), now, limit))
    return result.all()


async def insert_assignments(
    connection: AsyncConnection, rows: Sequence[dict[str, Any]], *, now: datetime
) -> dict[int, int]:
    """Job id → id of its new assignment. The rows share the claim's principal,
    worker, ARNs and storage scheme."""
    first = rows[0]
    columns = ("job_id", "attempt", "lease_token_hash", "expires_at", "deadline", "storage_uri")
    arrays = tuple([row[column] for row in rows] for column in columns)
    shared = (
        first["claimed_by_user_id"],
        first["worker_id"],
        first["ecs_task_arn"],
        first["ecs_cluster_arn"],
        first["storage_scheme"],
        now,
    )
    result = await connection.exec_driver_sql(INSERT_ASSIGNMENTS, (*arrays, *shared))
    return {row.job_id: row.id for row in result.all()}


async def end_leases(
    connection: AsyncConnection, by_token: Sequence[tuple[int, str]], *, now: datetime
) -> Sequence[Row[Any]]:
    ids = [assignment_id for assignment_id, _ in by_token]
    hashes = [token_hash for _, token_hash in by_token]
    return (await connection.exec_driver_sql(END_LEASES, (now, ids, hashes))).all()


async def finish_jobs(
    connection: AsyncConnection, job_ids: Sequence[int], *, now: datetime
) -> Sequence[Row[Any]]:
    return (await connection.exec_driver_sql(FINISH_JOBS, (now, list(job_ids)))).all()


async def insert_results(
    connection: AsyncConnection, results: Sequence[dict[str, Any]], *, now: datetime
) -> None:
    await connection.exec_driver_sql(
        INSERT_RESULTS,
        (
            now,
            [result["job_id"] for result in results],
            [result["assignment_id"] for result in results],
            # The driver's jsonb codec takes text: SQLAlchemy serialises before it.
            [
                None if result["result_payload"] is None else json.dumps(result["result_payload"])
                for result in results
            ],
            [result["storage_scheme"] for result in results],
            [result["storage_uri"] for result in results],
        ),
    )
