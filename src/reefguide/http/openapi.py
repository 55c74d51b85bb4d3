"""Make the OpenAPI document say, for each route, who may call it and how it fails.

Routes declare their auth through dependencies (`CurrentUser`, `require_roles`,
`rate_limited`); this walks each route's dependency tree once at start-up and
writes what it finds into the route's description and responses.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from reefguide.auth.dependencies import current_user

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"message": {"type": "string"}},
    "required": ["message"],
}


def _walk(dependant: Dependant) -> list[Any]:
    calls = []
    for dependency in dependant.dependencies:
        calls.append(dependency.call)
        calls.extend(_walk(dependency))
    return calls


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_SCHEMA}}}


def describe_routes(app: FastAPI) -> None:
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        calls = _walk(route.dependant)
        roles: list[str] = next((c.__roles__ for c in calls if hasattr(c, "__roles__")), [])
        limit: str | None = next((c.__rate_limit__ for c in calls if hasattr(c, "__rate_limit__")), None)
        authenticated = current_user in calls
        notes = []
        responses: dict[int | str, dict[str, Any]] = {}
        if route.body_field is not None or route.dependant.query_params or route.dependant.path_params:
            responses[400] = _error("Invalid request: the body lists each field's problem")
        if authenticated:
            notes.append("**Auth:** a bearer access token or an API key.")
            responses[401] = _error("Missing, invalid or expired credentials")
        else:
            notes.append("**Auth:** none.")
        if roles:
            notes.append(f"**Roles:** {' or '.join(roles)}.")
            responses[403] = _error("Authenticated, but without a required role")
        if limit:
            notes.append(f"**Rate limit:** {limit} per client.")
            responses[429] = _error("Rate limited; see Retry-After")
        if route.body_field is not None:
            responses[413] = _error("Request body too large")
        responses[503] = _error("The database is unavailable")
        route.description = "\n\n".join(filter(None, [route.description, " ".join(notes)]))
        route.responses = {**responses, **route.responses}
    app.openapi_schema = None
