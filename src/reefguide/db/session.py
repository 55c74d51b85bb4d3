"""The unit of work: the request owns the transaction.

`SessionDep` gives the request's session: commits when the handler returns and
rolls back when it raises. It ends with the path operation function
(scope="function"), so the commit happens before the response is sent. The
session is opened the first time a dependency or handler asks for it; a request
that never does (a profile read) has nothing to commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reefguide.errors import ApiError


async def _end(session: AsyncSession, error: BaseException | None) -> None:
    """Commit on success, roll back on error (unless the error asks to keep its changes)."""
    if error is None or (isinstance(error, ApiError) and error.keep_changes):
        await session.commit()
    else:
        await session.rollback()


@asynccontextmanager
async def unit_of_work(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException as exc:
            await _end(session, exc)
            raise
        await _end(session, None)


class UnitOfWork:
    """A request's session, opened on first use."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._session: AsyncSession | None = None
        self._adopted: list[object] = []

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self._sessionmaker()
            self._session.add_all(self._adopted)
        return self._session

    def adopt(self, instance: object) -> None:
        """Put an object loaded on another connection (the caller's user) into the
        session, now or when it opens, so the request's changes to it are saved."""
        if self._session is None:
            self._adopted.append(instance)
        else:
            self._session.add(instance)

    async def end(self, error: BaseException | None) -> None:
        if self._session is not None:
            try:
                await _end(self._session, error)
            finally:
                await self._session.close()


async def get_unit_of_work(request: Request) -> AsyncIterator[UnitOfWork]:
    work = UnitOfWork(request.app.state.sessionmaker)
    try:
        yield work
    except BaseException as exc:
        await work.end(exc)
        raise
    await work.end(None)


UnitOfWorkDep = Annotated[UnitOfWork, Depends(get_unit_of_work, scope="function")]


async def get_session(work: UnitOfWorkDep) -> AsyncSession:
    return work.session


SessionDep = Annotated[AsyncSession, Depends(get_session)]
