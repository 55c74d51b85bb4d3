"""Serving the app with uvicorn, and stopping it in order on SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import gc
import signal
import socket
from collections.abc import Awaitable, Callable
from types import FrameType

import structlog
import uvicorn
from fastapi import FastAPI

log = structlog.get_logger(__name__)

# In-flight requests get this long to finish once the server stops accepting.
GRACEFUL_STOP_SECONDS = 30
# The first step of a stop (stopping the workers this server runs) gets this long:
# more than a local worker's grace and the SIGKILL after it (cluster/local.py).
BEFORE_STOP_SECONDS = 30
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# New objects between young collections (Python's default: 700).
YOUNG_COLLECTION_OBJECTS = 50_000


class _OrderlyServer(uvicorn.Server):
    """uvicorn's server, stopping in two steps.

    First `begin_stop`, while the server still listens: waiting claims are answered,
    and the workers this server started are stopped. They finish or release their
    jobs through this server, which is why it must still accept connections: uvicorn
    alone closes its socket before the lifespan shutdown stops them, and a job whose
    worker could not report then waited for its lease to run out. Then uvicorn's own
    stop: no new connections, in-flight requests finish (bounded), lifespan shutdown.

    A second signal hurries the stop: `hurry_stop` (the workers give their jobs back
    at once), and requests still in flight are cancelled rather than waited for. The
    lifespan shutdown still runs (unlike uvicorn's forced exit, which skips it)."""

    def __init__(
        self,
        config: uvicorn.Config,
        begin_stop: Callable[[], Awaitable[None]],
        hurry_stop: Callable[[], None],
    ) -> None:
        super().__init__(config)
        self._begin_stop = begin_stop
        self._hurry_stop = hurry_stop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_asked = False
        self._hurried = False
        self._shutting_down = False
        self._stopping: asyncio.Future[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # A Python signal handler: it runs between two bytecodes of the event loop's
        # thread, so it only hands the work to the loop.
        if self._loop is None or not self.started:
            super().handle_exit(sig, frame)  # still starting: the lifespan shutdown does it all
            return
        if self._stop_asked:
            self._loop.call_soon_threadsafe(self._hurry)
            return
        self._stop_asked = True
        self._loop.call_soon_threadsafe(self._start_stop, signal.Signals(sig).name)

    def _start_stop(self, signal_name: str) -> None:
        self._stopping = asyncio.ensure_future(self._stop_in_order(signal_name))

    async def _stop_in_order(self, signal_name: str) -> None:
        log.info("stopping", signal=signal_name)
        try:
            await asyncio.wait_for(self._begin_stop(), BEFORE_STOP_SECONDS)
        except TimeoutError:
            log.error("the first step of the stop overran; stopping anyway", seconds=BEFORE_STOP_SECONDS)
        except Exception:
            log.exception("the first step of the stop failed; stopping anyway")
        finally:
            self.should_exit = True  # uvicorn's main loop sees it within 0.1 s and calls shutdown()

    def _hurry(self) -> None:
        if self._hurried:
            return
        self._hurried = True
        log.warning("stopping at once: second signal")
        self._hurry_stop()
        # Before then, requests in flight include the workers giving their jobs back.
        if self._shutting_down:
            self._cancel_requests()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._shutting_down = True
        if self._hurried:
            self._cancel_requests()  # uvicorn stops accepting right after, with no await between
        await super().shutdown(sockets)

    def _cancel_requests(self) -> None:
        for task in self.server_state.tasks:
            task.cancel(msg="Task cancelled: stopping at once")


def _stopped_on_request(_signum: int, _frame: FrameType | None) -> None:
    """A signal during start-up is left to uvicorn, which raises it again once it has
    stopped, so that the process would die of it (exit -15, or 130 after Ctrl-C).
    A stop someone asked for is success."""
    raise SystemExit(0)


def serve_app(
    app: FastAPI,
    *,
    host: str,
    port: int,
    begin_stop: Callable[[], Awaitable[None]],
    hurry_stop: Callable[[], None],
) -> None:
    """Serve until SIGTERM or Ctrl-C (a second one hurries the stop); exit 0 once stopped."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_STOP_SECONDS,
    )
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stopped_on_request)
    tune_garbage_collector()
    _OrderlyServer(config, begin_stop, hurry_stop).run()


def tune_garbage_collector() -> None:
    """Python's cycle collector, set for a server. What start-up built (modules, the
    app, its routes, models and schemas) lives as long as the process: frozen, it is
    no longer scanned by every full collection (which showed as a stall of tens of
    milliseconds every few thousand requests). And a young collection comes after
    50,000 new objects rather than 700: a claim or a report of a hundred jobs makes
    tens of thousands of short-lived ones, freed by reference counting anyway, and the
    collections they triggered took a tenth of the queue's CPU (bench/queue.py)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_OBJECTS, *gc.get_threshold()[1:])
