"""Make the OpenAPI document say, for each route, who may call it and how it fails.

Routes declare their auth through dependencies (`CurrentUser`, `require_roles`,
`rate_limited`) and their database use through `SessionDep`; this reads each
route's dependency tree when the document is built and writes what it finds into
the operation: its security requirement, a line on auth, roles and rate limit,
and one `{"message": …}` response per way it can fail. FastAPI's 422 is replaced
by the 400 this service answers instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_flat_params
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security.base import SecurityBase

from reefguide.auth.dependencies import current_user
from reefguide.db.session import get_unit_of_work

ERROR_REF = "#/components/schemas/Error"
INVALID_REQUEST_REF = "#/components/schemas/InvalidRequest"
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "properties": {"message": {"type": "string"}},
    "required": ["message"],
}
INVALID_REQUEST_SCHEMA: dict[str, Any] = {
    "title": "InvalidRequest",
    "type": "object",
    "properties": {
        "message": {"type": "string", "examples": ["Invalid request"]},
        "errors": {
            "type": "array",
            "description": "One entry per problem; `field` is named as sent, nested as `a.b`.",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                "required": ["field", "message"],
            },
        },
    },
    "required": ["message"],
}
# FastAPI's 422 body, which this service never sends.
UNUSED_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _walk(dependant: Dependant) -> list[Any]:
    calls = []
    for dependency in dependant.dependencies:
        calls.append(dependency.call)
        calls.extend(_walk(dependency))
    return calls


def _json_error(description: str, ref: str = ERROR_REF) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


def _describe_operation(operation: dict[str, Any], route: Any, security_schemes: dict[str, Any]) -> None:
    dependant: Dependant = route.dependant
    calls = _walk(dependant)
    roles: list[str] = next((c.__roles__ for c in calls if hasattr(c, "__roles__")), [])
    limit: str | None = next((c.__rate_limit__ for c in calls if hasattr(c, "__rate_limit__")), None)
    authenticated = current_user in calls
    notes = []
    errors: dict[int, dict[str, Any]] = {}
    if route.body_field is not None or get_flat_params(dependant):
        errors[400] = _json_error(
            "Invalid request: malformed JSON, or the fields listed in `errors`", INVALID_REQUEST_REF
        )
    if authenticated:
        notes.append("**Auth:** a bearer access token or an API key.")
        errors[401] = _json_error("Missing, invalid or expired credentials")
        schemes: list[SecurityBase] = current_user.__security__  # type: ignore[attr-defined]
        operation["security"] = [{scheme.scheme_name: []} for scheme in schemes]
        for scheme in schemes:
            security_schemes[scheme.scheme_name] = jsonable_encoder(
                scheme.model, by_alias=True, exclude_none=True
            )
    else:
        notes.append("**Auth:** none.")
    if roles:
        notes.append(f"**Roles:** {' or '.join(roles)}.")
        errors[403] = _json_error("Authenticated, but without a required role")
    if limit:
        notes.append(f"**Rate limit:** {limit} per client.")
        errors[429] = _json_error("Rate limited; the Retry-After header says when to try again")
        errors[429]["headers"] = {
            "Retry-After": {"description": "Seconds until the next attempt", "schema": {"type": "integer"}}
        }
    if route.body_field is not None:
        errors[413] = _json_error("Request body too large")
    if authenticated or get_unit_of_work in calls:  # the caller is read from the database
        errors[503] = _json_error("The database is unavailable")

    operation["description"] = "\n\n".join(filter(None, [operation.get("description"), " ".join(notes)]))
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    for code, error in errors.items():
        # A route's own description of an error wins; the body is always `{"message": …}`.
        declared = responses.setdefault(str(code), error)
        declared.setdefault("content", error["content"])
    for status, response in responses.items():
        if status[:1] in {"4", "5"}:
            response.setdefault("content", _json_error("")["content"])
    operation["responses"] = dict(sorted(responses.items()))


def _describe(app: FastAPI, document: dict[str, Any]) -> None:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    security_schemes = components.setdefault("securitySchemes", {})
    paths = document.get("paths", {})
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute) or not context.include_in_schema:
            continue
        for method in context.methods or ():
            operation = paths.get(context.path_format, {}).get(method.lower())
            if operation is not None:
                _describe_operation(operation, context, security_schemes)
    schemas["Error"] = ERROR_SCHEMA
    schemas["InvalidRequest"] = INVALID_REQUEST_SCHEMA
    for name in UNUSED_SCHEMAS:  # HTTPValidationError first: it refers to ValidationError
        if f'"#/components/schemas/{name}"' not in json.dumps(document):
            schemas.pop(name, None)
    if not security_schemes:
        components.pop("securitySchemes")


def describe_routes(app: FastAPI) -> None:
    """Describe auth and errors in the document, each time FastAPI (re)builds it:
    routes included later, or included lazily, are described too."""
    build: Callable[[], dict[str, Any]] = app.openapi
    described: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        document = build()
        if not described or described[0] is not document:
            _describe(app, document)
            described[:] = [document]
        return document

    app.openapi = openapi  # type: ignore[method-assign]
    app.openapi_schema = None
