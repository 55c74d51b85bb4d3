"""One pgqueuer worker process for bench/workers.py: a QueueManager on its own asyncpg
connection (DATABASE_URL, an asyncpg DSN) runs the no-op jobs of one entrypoint
until the queue is empty (`mode=drain`), then prints `ran <count>` and exits 0.

    DATABASE_URL=postgresql://… python bench/pgqueuer_worker.py --entrypoint noop \\
        --max-concurrent 8 --batch 4

On plain asyncio (`asyncio.run`), as `reefguide worker` runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    # Run as a script, bench/ comes first on the import path, where queue.py would
    # stand in for the standard library's `queue` (logging.handlers, which pgqueuer
    # imports, imports it): this script needs nothing from bench/.
    sys.path.pop(0)

import argparse
import asyncio
import os

import asyncpg
from pgqueuer.db import AsyncpgDriver
from pgqueuer.models import Job
from pgqueuer.qm import QueueManager
from pgqueuer.queries import Queries
from pgqueuer.types import QueueExecutionMode


async def drain(dsn: str, entrypoint: str, max_concurrent: int, batch: int) -> int:
    """Run every job of `entrypoint` there is; how many this process ran."""
    ran = 0

    async def noop(job: Job) -> None:
        nonlocal ran
        ran += 1

    connection = await asyncpg.connect(dsn)
    try:
        manager = QueueManager(Queries(AsyncpgDriver(connection)))
        manager.entrypoint(entrypoint)(noop)  # the decorator, applied by hand
        await manager.run(
            mode=QueueExecutionMode.drain, batch_size=batch, max_concurrent_tasks=max_concurrent
        )
    finally:
        await connection.close()
    return ran


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entrypoint", required=True)
    parser.add_argument("--max-concurrent", type=int, required=True, help="max_concurrent_tasks")
    parser.add_argument("--batch", type=int, required=True, help="batch_size (at most half the above)")
    args = parser.parse_args()
    ran = asyncio.run(drain(os.environ["DATABASE_URL"], args.entrypoint, args.max_concurrent, args.batch))
    print(f"ran {ran}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
