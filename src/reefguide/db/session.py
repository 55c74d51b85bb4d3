"""The unit of work: the request owns the transaction.

`SessionDep` gives the request's session: commits when the handler returns and
rolls back when it raises. It ends with the path operation function
(scope="function"), so the commit happens before the response is sent. The
session is opened the first time a dependency or handler asks for it; a request
that never does (a profile read) has nothing to commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

import structlog
from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from reefguide.errors import ApiError

T = TypeVar("T")
log = structlog.get_logger(__name__)

_AFTER_COMMIT = "reefguide_after_commit"


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run `callback` once the session's current transaction commits; never if it
    rolls back. For what must not be seen before the change is (events, wake-ups)."""
    session.sync_session.info.setdefault(_AFTER_COMMIT, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    callbacks: list[Callable[[], None]] = session.info.pop(_AFTER_COMMIT, [])
    for callback in callbacks:
        try:
            callback()
        except Exception:
            # The change is committed whatever a listener does; say so and go on.
            log.exception("after_commit_callback_failed")


@event.listens_for(Session, "after_rollback")
def _drop_after_commit(session: Session, *_: Any) -> None:
    session.info.pop(_AFTER_COMMIT, None)


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
    """A request's session, opened on first use (see `get_session`)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._session: AsyncSession | None = None
        self._adopted: list[object] = []

    def open(self) -> AsyncSession:
        if self._session is None:
            self._session = self._sessionmaker()
            self._session.add_all(self._adopted)
        return self._session

    @property
    def active_session(self) -> AsyncSession | None:
        """The session if it has begun a transaction, and so may hold a pooled connection."""
        if self._session is not None and self._session.in_transaction():
            return self._session
        return None

    async def adopt(self, instance: T) -> T:
        """Put a clean object loaded outside the session (the caller's user) into it,
        now or when it opens, so the request's changes to it are saved. Use the object
        returned: the session's own copy if it had already loaded one."""
        if self._session is None:
            self._adopted.append(instance)
            return instance
        return await self._session.merge(instance, load=False)


_SCOPE_KEY = "reefguide.unit_of_work"


def request_unit_of_work(request: Request) -> UnitOfWork:
    """The request's unit of work, made on first use. Kept in the ASGI scope rather
    than left to FastAPI's dependency cache so that `current_user`, which every
    authenticated request runs, needs no dependency of its own to reach it."""
    work: UnitOfWork | None = request.scope.get(_SCOPE_KEY)
    if work is None:
        work = request.scope[_SCOPE_KEY] = UnitOfWork(request.app.state.sessionmaker)
    return work


async def get_unit_of_work(request: Request) -> UnitOfWork:
    return request_unit_of_work(request)


UnitOfWorkDep = Annotated[UnitOfWork, Depends(get_unit_of_work)]


async def get_session(work: UnitOfWorkDep) -> AsyncIterator[AsyncSession]:
    session = work.open()
    async with session:
        try:
            yield session
        except BaseException as exc:
            await _end(session, exc)
            raise
        await _end(session, None)


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
