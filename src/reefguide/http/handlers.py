"""Every error leaves as `{"message": …}` with the right status; 422 never, 500 only for bugs."""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    StatementError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from reefguide.errors import ApiError, error_message, field_name

log = structlog.get_logger(__name__)

DATABASE_DOWN = "The database is unavailable; please try again shortly"
CONFLICT = "Conflict with a concurrent change; please retry"
VALUE_NOT_STORABLE = "Invalid request: a value is out of range or cannot be stored"


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
            {"field": field_name(tuple(error.get("loc", ()))), "message": error_message(error)}
            for error in errors
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


def _sqlstate(exc: DBAPIError) -> str | None:
    code = getattr(exc.orig, "pgcode", None) or getattr(exc.orig, "sqlstate", None)
    return code if isinstance(code, str) else None


def _is_unstorable_value(exc: BaseException) -> bool:
    """The database refused a value the request carried: an id past the column's range,
    a NUL character in text (SQLSTATE class 22, "data exception"), an integer too big
    for SQLite, a date that overflows on its way to UTC. Input that passed validation
    but cannot be stored is still bad input."""
    if isinstance(exc, (DataError, OverflowError)):
        return True
    if isinstance(exc, StatementError) and isinstance(exc.orig, OverflowError):
        return True
    if isinstance(exc, DBAPIError):
        return (_sqlstate(exc) or "").startswith("22")
    return False


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, IntegrityError):
        # A uniqueness race lost to a concurrent request.
        return JSONResponse({"message": CONFLICT}, status_code=409)
    if _is_unstorable_value(exc):
        # Not the message: it quotes the value, which may be anything the client sent.
        sqlstate = _sqlstate(exc) if isinstance(exc, DBAPIError) else None
        log.warning("value refused by the database", error=type(exc).__name__, sqlstate=sqlstate)
        return JSONResponse({"message": VALUE_NOT_STORABLE}, status_code=400)
    if _is_connection_failure(exc):
        log.warning("database unavailable", error=type(exc).__name__)
        return JSONResponse({"message": DATABASE_DOWN}, status_code=503)
    return await _unexpected(request, exc)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Starlette calls this handler outside every middleware, after the request id
    # has left the logging context; the request middleware leaves it in the scope.
    request_id = request.scope.get("state", {}).get("request_id")
    log.exception("unhandled error", exc_info=exc, **({"request_id": request_id} if request_id else {}))
    return JSONResponse({"message": ApiError.default_message}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(StatementError, _database_error)
    app.add_exception_handler(PoolTimeoutError, _database_error)
    app.add_exception_handler(OSError, _database_error)
    app.add_exception_handler(OverflowError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
