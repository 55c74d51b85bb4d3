"""The API's errors: services raise these, one handler renders `{"message": …}`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class ApiError(Exception):
    status_code = 500
    default_message = "An unexpected error occurred"

    def __init__(
        self,
        message: str | None = None,
        *,
        keep_changes: bool = False,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or self.default_message
        # Most errors undo the request's writes; a few (a reused refresh token
        # revoking its family, a failed reset attempt) must keep them.
        self.keep_changes = keep_changes
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {"message": self.message, **self.extra}


class BadRequest(ApiError):
    status_code = 400
    default_message = "Bad request"


class Unauthorized(ApiError):
    status_code = 401
    default_message = "Unauthorized"


class Forbidden(ApiError):
    status_code = 403
    default_message = "Forbidden"


class NotFound(ApiError):
    status_code = 404
    default_message = "Not found"


class Conflict(ApiError):
    status_code = 409
    default_message = "Conflict"


class PayloadTooLarge(ApiError):
    status_code = 413
    default_message = "Request body too large"


class TooManyRequests(ApiError):
    status_code = 429
    default_message = "Too many attempts, please try again later"


class ServiceUnavailable(ApiError):
    status_code = 503
    default_message = "Service unavailable"


def field_name(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as the client named it: ("body", "email") -> "email",
    ("query", "limit") -> "limit", ("body", "a", 0, "b") -> "a.0.b"."""
    parts = (
        [str(part) for part in loc[1:]]
        if loc and loc[0] in {"body", "query", "path", "header", "cookie"}
        else [str(p) for p in loc]
    )
    return ".".join(parts) or str(loc[0] if loc else "body")


def error_message(error: Mapping[str, Any]) -> str:
    # Only pydantic's `msg`: the error's `input` and `ctx` echo what the client sent.
    message = str(error.get("msg", "Invalid value"))
    return message.removeprefix("Value error, ")


def invalid(message: str, errors: Iterable[Mapping[str, Any]], *, prefix: str = "") -> BadRequest:
    """A 400 listing pydantic `errors`, each field named under `prefix` (e.g. "inputPayload")."""
    listed = []
    for error in errors:
        field = field_name(tuple(error.get("loc", ())))
        listed.append(
            {
                "field": f"{prefix}.{field}" if prefix and field else prefix or field,
                "message": error_message(error),
            }
        )
    return BadRequest(message, extra={"errors": listed})
