"""The connection pool serves waiters in the order they came (db/pool.py): a returned
connection goes to the longest waiter, never to a newcomer, and nothing is lost when
a waiter times out or is cancelled."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import StaticPool
from sqlalchemy.util import greenlet_spawn, queue

from reefguide.db.engine import async_url, create_engine
from reefguide.db.pool import FairAsyncQueuePool, FairQueue


def _waiting(fair: FairQueue[str], timeout: float = 5.0) -> asyncio.Task[Any]:
    # The pool calls `get` from SQLAlchemy's synchronous code, in a greenlet.
    return asyncio.create_task(greenlet_spawn(fair.get, True, timeout))


async def _until_waiting(fair: FairQueue[str], count: int) -> None:
    for _ in range(100):
        if len(fair._waiters) == count:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{len(fair._waiters)} waiters, expected {count}")


async def _two_in_line(fair: FairQueue[str]) -> tuple[asyncio.Task[Any], asyncio.Task[Any]]:
    first = _waiting(fair)
    await _until_waiting(fair, 1)
    second = _waiting(fair)
    await _until_waiting(fair, 2)
    return first, second


async def test_a_returned_item_goes_to_the_longest_waiter_not_to_a_newcomer() -> None:
    fair: FairQueue[str] = FairQueue(maxsize=3)
    first, second = await _two_in_line(fair)

    fair.put("a", False)
    # A newcomer asking before the first waiter has run finds nothing idle.
    with pytest.raises(queue.Empty):
        fair.get(False)
    newcomer = _waiting(fair)
    await _until_waiting(fair, 2)  # second and newcomer; first was served
    fair.put("b", False)
    fair.put("c", False)

    assert list(await asyncio.gather(first, second, newcomer)) == ["a", "b", "c"]
    assert fair.qsize() == 0


async def test_an_idle_item_is_taken_at_once() -> None:
    fair: FairQueue[str] = FairQueue(maxsize=2)
    fair.put("a", False)
    fair.put("b", False)
    assert fair.full()
    with pytest.raises(queue.Full):
        fair.put("c", False)
    assert await greenlet_spawn(fair.get, True, 5.0) == "a"
    assert fair.get(False) == "b"
    assert fair.empty()


async def test_a_waiter_that_times_out_leaves_the_line() -> None:
    fair: FairQueue[str] = FairQueue(maxsize=1)
    with pytest.raises(queue.Empty):
        await greenlet_spawn(fair.get, True, 0.01)
    assert len(fair._waiters) == 0
    fair.put("a", False)
    assert fair.qsize() == 1  # idle, not handed to the waiter that gave up


async def test_an_item_handed_to_a_cancelled_waiter_goes_to_the_next() -> None:
    fair: FairQueue[str] = FairQueue(maxsize=1)
    first, second = await _two_in_line(fair)

    fair.put("a", False)
    first.cancel()  # before it has run to take "a"
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await second == "a"


async def test_a_cancelled_waiter_is_skipped() -> None:
    fair: FairQueue[str] = FairQueue(maxsize=1)
    first, second = await _two_in_line(fair)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first

    fair.put("a", False)
    assert await second == "a"


async def test_postgresql_engines_pool_fairly_and_time_out_as_before(empty_database: str) -> None:
    assert isinstance(create_engine(empty_database).pool, FairAsyncQueuePool)
    engine = create_async_engine(
        async_url(empty_database), poolclass=FairAsyncQueuePool, pool_size=2, max_overflow=0, pool_timeout=0.2
    )
    order: list[int] = []

    async def query(index: int) -> None:
        async with engine.connect() as connection:
            order.append(index)
            await connection.execute(text("SELECT pg_sleep(0.002)"))

    try:
        held = [await engine.connect() for _ in range(2)]
        queries = [asyncio.create_task(query(index)) for index in range(40)]
        await asyncio.sleep(0.05)  # all forty waiting
        for connection in held:
            await connection.close()
        await asyncio.gather(*queries)
        assert order == list(range(40))  # everyone in turn
        assert engine.pool.checkedin() == 2  # type: ignore[attr-defined]

        held = [await engine.connect() for _ in range(2)]
        with pytest.raises(exc.TimeoutError):  # the pool's own error, as before
            await engine.connect()
        for connection in held:
            await connection.close()
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()


async def test_sqlite_files_pool_fairly_and_memory_keeps_its_one_connection(tmp_path: Path) -> None:
    on_file = create_engine(f"sqlite:///{tmp_path / 'reefguide.db'}")
    in_memory = create_engine("sqlite:///:memory:")
    try:
        assert isinstance(on_file.pool, FairAsyncQueuePool)
        assert isinstance(in_memory.pool, StaticPool)
    finally:
        await on_file.dispose()
        await in_memory.dispose()


async def test_the_pool_logs_as_sqlalchemys_does(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Not an INFO line of ours at every start and stop ("Pool disposed", "Pool recreating")."""
    engine = create_engine(f"sqlite:///{tmp_path / 'reefguide.db'}")
    with caplog.at_level(logging.INFO):
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        await engine.dispose()
    assert [record.getMessage() for record in caplog.records if "Pool" in record.getMessage()] == []
