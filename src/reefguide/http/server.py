"""Serving the app with uvicorn, telling it when the server begins to stop."""

from __future__ import annotations

from collections.abc import Callable
from types import FrameType

import uvicorn
from fastapi import FastAPI

# In-flight requests get this long to finish once the server stops accepting.
GRACEFUL_STOP_SECONDS = 30


class _StopAwareServer(uvicorn.Server):
    """uvicorn's server, calling `on_stop` as soon as a stop is asked for (SIGTERM,
    Ctrl-C), before it waits for in-flight requests: long-polling claims answer at
    once instead of holding up the graceful stop."""

    def __init__(self, config: uvicorn.Config, on_stop: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_stop = on_stop

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._on_stop()
        super().handle_exit(sig, frame)


def serve_app(app: FastAPI, *, host: str, port: int, on_stop: Callable[[], None]) -> None:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_STOP_SECONDS,
    )
    _StopAwareServer(config, on_stop).run()
