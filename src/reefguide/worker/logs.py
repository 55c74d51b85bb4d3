"""Structured logs for the worker process: JSON lines, or readable lines in a terminal.

The server's logging set-up is not used: it brings the server's settings and web
framework with it, and a worker imports nothing of the server.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from reefguide.worker.tracing import add_trace_ids


def configure_logging(level: str = "INFO", log_format: str = "auto", *, tracing: bool = False) -> None:
    """`tracing`: each line carries the current span's trace id (tracing is on)."""
    use_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        *([add_trace_ids] if tracing else []),
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if use_json:
        processors += [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        # Plain tracebacks: the default (rich) shows local variables, and they hold secrets.
        processors.append(
            structlog.dev.ConsoleRenderer(
                colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
            )
        )
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level)),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    # httpx logs every request (with its URL: upload signatures) at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)
