"""Every error leaves as `{"message": …}` with the right status; 422 never, 500 only for bugs."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from reefguide.errors import ApiError

log = structlog.get_logger(__name__)

DATABASE_DOWN = "The database is unavailable; please try again shortly"


def _field(loc: tuple[Any, ...]) -> str:
    # ("body", "email") -> "email"; ("query", "limit") -> "limit"
    parts = (
        [str(part) for part in loc[1:]]
        if loc and loc[0] in {"body", "query", "path", "header"}
        else [str(p) for p in loc]
    )
    return ".".join(parts) or str(loc[0] if loc else "body")


def _message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "Invalid value"))
    return message.removeprefix("Value error, ")


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(error.get("type") == "json_invalid" for error in errors):
        return JSONResponse({"message": "Malformed JSON in request body"}, status_code=400)
    body = {
        "message": "Invalid request",
        "errors": [
            {"field": _field(tuple(error.get("loc", ()))), "message": _message(error)} for error in errors
        ],
    }
    return JSONResponse(body, status_code=400)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse({"message": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)


def _is_connection_failure(exc: BaseException) -> bool:
    if isinstance(exc, (OSError, PoolTimeoutError, ConnectionError)):
        return True
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError))
    return False


async def _database_error(_request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, IntegrityError):
        # A uniqueness race lost to a concurrent request.
        return JSONResponse({"message": "Conflict with a concurrent change; please retry"}, status_code=409)
    if _is_connection_failure(exc):
        log.warning("database unavailable", error=type(exc).__name__)
        return JSONResponse({"message": DATABASE_DOWN}, status_code=503)
    return await _unexpected(_request, exc)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    if _is_connection_failure(exc):
        return await _database_error(_request, exc)
    log.exception("unhandled error", exc_info=exc)
    return JSONResponse({"message": "An unexpected error occurred"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(PoolTimeoutError, _database_error)
    app.add_exception_handler(OSError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
