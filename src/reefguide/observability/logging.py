"""Structured logs: JSON lines in production, readable lines in a terminal.

Every line passes through `redact`, so a password, token or key never reaches
a log even when someone logs a whole body by mistake.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from reefguide.settings import Settings

SECRET_KEYS = frozenset(
    {
        "password",
        "old_password",
        "new_password",
        "confirm_password",
        "oldpassword",
        "newpassword",
        "confirmpassword",
        "token",
        "refresh_token",
        "refreshtoken",
        "access_token",
        "authorization",
        "api_key",
        "apikey",
        "x-api-key",
        "key",
        "secret",
        "code",
        "lease_token",
        "leasetoken",
    }
)
REDACTED = "[redacted]"


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for name in list(event):
        if name.lower() in SECRET_KEYS:
            event[name] = REDACTED
        elif isinstance(event[name], dict):
            event[name] = {
                key: REDACTED if str(key).lower() in SECRET_KEYS else value
                for key, value in event[name].items()
            }
    return event


def _use_json(settings: Settings) -> bool:
    if settings.log_format == "auto":
        return not sys.stderr.isatty()
    return settings.log_format == "json"


def configure_logging(settings: Settings) -> None:
    """Route structlog and the standard library (uvicorn, alembic) through one pipeline."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if _use_json(settings)
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    level = getattr(logging, settings.log_level)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    # Our middleware writes the access line; uvicorn's own would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
