"""The Socket.IO server of one API process, mounted at /socket.io by create_app.

Connect: authenticate (auth.py), join `USER:<id>`, and `ADMIN` for admins.
`job:subscribe {jobId}`: for a job the caller may read, join `JOB:<id>` and answer
at once with its state, so a client that connects late does not miss the end.
With REDIS_URL set, rooms span every API process: an event emitted in one reaches
the sockets connected to all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import socketio
import structlog
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from reefguide.auth.context import AuthContext
from reefguide.errors import ApiError
from reefguide.http.handlers import DATABASE_DOWN
from reefguide.jobs.events import JobEvents
from reefguide.observability.metrics import SOCKETIO_CONNECTIONS
from reefguide.realtime.auth import connecting_user
from reefguide.realtime.fanout import JobUpdateFanout
from reefguide.realtime.rooms import ADMIN_ROOM, job_room, user_room
from reefguide.realtime.schemas import JOB_SUBSCRIBE, JobUpdate, error, subscribe_request
from reefguide.realtime.service import check_readable, job_state
from reefguide.settings import Settings
from reefguide.users.models import Role

log = structlog.get_logger(__name__)

MOUNT_PATH = "/socket.io"
# At a stop, how long the job updates still queued may take to go out.
FLUSH_SECONDS = 5.0


class Realtime:
    def __init__(
        self,
        settings: Settings,
        *,
        auth: AuthContext,
        engine: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        manager = (
            socketio.AsyncRedisManager(settings.redis_url, channel=settings.redis_channel)
            if settings.redis_url
            else None
        )
        # Cross-origin browsers are the app's CORS middleware's business (CORS_ORIGINS),
        # as for every other route: Engine.IO adds no headers of its own and checks no
        # Origin. Connections are authenticated by the credential they send, never by
        # a cookie, so another site's page gains nothing by connecting.
        self.server = socketio.AsyncServer(async_mode="asgi", client_manager=manager, cors_allowed_origins=[])
        # Mounted at MOUNT_PATH: everything that reaches it is Socket.IO's.
        self.asgi_app = socketio.ASGIApp(self.server, socketio_path=None)
        # With Redis, sockets of other processes may be listening; without, only ours.
        redis = manager is not None
        self.fanout = JobUpdateFanout(
            self.server, sessionmaker, listening=lambda: redis or bool(self.server.eio.sockets)
        )
        self._auth = auth
        self._engine = engine
        self._sessionmaker = sessionmaker
        self._closing: asyncio.Future[None] | None = None
        self.server.on("connect", self._connect)
        self.server.on("disconnect", self._disconnect)
        self.server.on(JOB_SUBSCRIBE, self._subscribe)

    async def start(self, events: JobEvents) -> None:
        """Start forwarding job events; with Redis, listen for other processes' emits
        now rather than on the first connection."""
        if not self.server.manager_initialized:
            self.server.manager_initialized = True
            self.server.manager.initialize()
        self.fanout.start(events)

    async def begin_stop(self) -> None:
        """The server is stopping (app.begin_stop): send the job updates still queued,
        then close every connection. A client waiting on a long poll would otherwise
        hold up the graceful stop; closed at the transport, clients reconnect by
        themselves (to another process, behind a load balancer)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FLUSH_SECONDS):
                await self.fanout.flush()
        if self.server.eio.sockets:
            self._closing = asyncio.ensure_future(self.server.eio.disconnect())

    async def stop(self) -> None:
        if self._closing is not None:
            with contextlib.suppress(Exception):
                await self._closing
        await self.fanout.stop()
        await self.server.shutdown()
        manager = self.server.manager
        listener: asyncio.Task[None] | None = getattr(manager, "thread", None)
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        for connection in (getattr(manager, "pubsub", None), getattr(manager, "redis", None)):
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.aclose()

    async def _connect(self, sid: str, environ: Mapping[str, Any], auth: object = None) -> None:
        user = await connecting_user(
            auth, environ, auth=self._auth, engine=self._engine, sessionmaker=self._sessionmaker
        )
        await self.server.save_session(sid, {"user_id": user.id})
        await self.server.enter_room(sid, user_room(user.id))
        if user.has_role(Role.ADMIN):
            await self.server.enter_room(sid, ADMIN_ROOM)
        SOCKETIO_CONNECTIONS.inc()

    async def _disconnect(self, sid: str, *_reason: object) -> None:
        # Only connections that were accepted (a refused one never reached the end of _connect).
        if "user_id" in await self.server.get_session(sid):
            SOCKETIO_CONNECTIONS.dec()

    async def _subscribe(self, sid: str, data: object = None) -> dict[str, Any]:
        request = subscribe_request(data)
        if request is None:
            return error("Expected {jobId: <integer>}")
        user_id: int = (await self.server.get_session(sid))["user_id"]
        try:
            async with self._sessionmaker() as session:
                await check_readable(session, user_id, request.job_id)
            # Joined before the state is read: a change committed after the read is
            # also sent to the room, so none falls between the answer and the updates.
            await self.server.enter_room(sid, job_room(request.job_id))
            async with self._sessionmaker() as session:
                state = await job_state(session, request.job_id)
        except ApiError as exc:
            return error(exc.message)
        except (DBAPIError, OSError, TimeoutError) as exc:
            log.warning("database unavailable", error=type(exc).__name__)
            return error(DATABASE_DOWN)
        except Exception:
            # A bug; the client still gets its answer rather than waiting for none.
            log.exception("job subscribe failed", job_id=request.job_id)
            return error(ApiError.default_message)
        return JobUpdate.of(state).wire()
