"""Bad input never gets a 5xx: every route of the OpenAPI document, hammered with
malformed bodies, path and query parameters and credentials, answers 4xx with
`{"message": …}` (or succeeds), and never 422.

Hand-rolled rather than schemathesis: the cases are deterministic, run in-process
on both databases through the same fixtures as every other API test, and name the
exact request that failed.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from reefguide.cluster.local import LocalBackend
from reefguide.users.models import Role
from tests.factories import bearer, make_user, token_for

# Values of the wrong type, at the edges of every type, or odd in their encoding.
BAD_VALUES: list[Any] = [
    None,
    "",
    "x" * 5000,
    "\u0000",
    "ünïcödé 💥 \u202e",
    "' OR 1=1 --",
    0,
    -1,
    2**31,
    2**63,
    10**40,
    1.5,
    1e308,
    True,
    [],
    {},
    {"nested": {"deeper": [1, "two", None]}},
    "2024-13-45T99:99:99",
    "2030-01-01T00:00:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
]

# Path and query parameters arrive as text.
BAD_TEXT: list[str] = [
    "abc",
    "-1",
    "0",
    "1.5",
    "2147483648",
    "9223372036854775808",
    "1" * 40,
    "NaN",
    "%00",
    "é💥",
    "x" * 3000,
]

NON_OBJECT_BODIES: list[Any] = [[], [{}], "text", 0, -1, 10**40, 1e308, True, None]

RAW_BODIES: list[tuple[bytes, str]] = [
    (b"{", "application/json"),
    (b"", "application/json"),
    (b"\xff\xfe\x00", "application/json"),
    (b'{"a": NaN, "b": Infinity, "c": 1e999}', "application/json"),
    (b"[" * 5000 + b"]" * 5000, "application/json"),
    ('{"ünï": "💥"}'.encode("utf-16"), "application/json"),
    (b"email=a%40b.c&password=x", "application/x-www-form-urlencoded"),
    (
        b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\nb\r\n--x--\r\n",
        "multipart/form-data; boundary=x",
    ),
    (b"plain text", "text/plain"),
    (b'{"json": "but not said so"}', "application/octet-stream"),
]

BAD_CREDENTIALS: list[dict[str, str | bytes]] = [
    {},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer not.a.jwt"},
    {"Authorization": "Bearer " + "a" * 10000},
    {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJpZCI6MX0."},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "Api-Key"},
    {"Authorization": "Api-Key ünï💥".encode()},
    {"x-api-key": "\u00e9\u00e9".encode("latin-1")},
    {"x-api-key": ""},
    {"x-api-key": "rg_" + "z" * 5000},
    {"x-api-key": "key", "Authorization": "Bearer x"},
]


@dataclass
class Case:
    method: str
    path: str
    description: str
    params: dict[str, str] = field(default_factory=dict)
    json_body: Any = None
    has_json: bool = False
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


class Schemas:
    """Just enough of JSON Schema to build plausible values and find an operation's fields."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.components: dict[str, Any] = document.get("components", {}).get("schemas", {})

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[1]]
        for key in ("anyOf", "oneOf", "allOf"):
            if key in schema:
                options = [option for option in schema[key] if option.get("type") != "null"]
                if options:
                    return self.resolve(options[0])
        return schema

    def plausible(self, schema: dict[str, Any], depth: int = 0) -> Any:
        schema = self.resolve(schema)
        if "default" in schema:
            return schema["default"]
        if "enum" in schema:
            return schema["enum"][0]
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            if depth > 4:
                return {}
            return {
                name: self.plausible(sub, depth + 1) for name, sub in schema.get("properties", {}).items()
            }
        if kind == "array":
            return [self.plausible(schema.get("items", {}), depth + 1)] if depth <= 4 else []
        if kind == "integer":
            return max(1, int(schema.get("minimum", 1)))
        if kind == "number":
            return 1.0
        if kind == "boolean":
            return True
        text_format = schema.get("format")
        if text_format == "email":
            return "fuzz@example.com"
        if text_format == "date-time":
            return "2030-01-01T00:00:00Z"
        if text_format in {"uri", "url"}:
            return "https://example.com/"
        return "x" * max(8, int(schema.get("minLength", 0)))

    def field_paths(self, schema: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
        """Each property, and each property of a nested object, as a path."""
        schema = self.resolve(schema)
        for name, sub in schema.get("properties", {}).items():
            yield (*prefix, name)
            if len(prefix) < 2 and "properties" in self.resolve(sub):
                yield from self.field_paths(sub, (*prefix, name))


def _set(body: Any, path: tuple[str, ...], value: Any) -> Any:
    copy = json.loads(json.dumps(body))
    target = copy
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return copy


def _drop(body: Any, path: tuple[str, ...]) -> Any:
    copy = json.loads(json.dumps(body))
    target = copy
    for part in path[:-1]:
        target = target[part]
    target.pop(path[-1], None)
    return copy


def _fill_path(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda match: values.get(match.group(1), "1"), template)


def cases_for(schemas: Schemas, template: str, method: str, operation: dict[str, Any]) -> Iterator[Case]:
    parameters = operation.get("parameters", [])
    path_names = [p["name"] for p in parameters if p["in"] == "path"]
    query = {p["name"]: p for p in parameters if p["in"] == "query"}
    plausible_query = {name: str(schemas.plausible(p.get("schema", {}))) for name, p in query.items()}
    valid_path = _fill_path(template, {})
    body_schema = (
        operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    )

    def case(description: str, **kwargs: Any) -> Case:
        kwargs.setdefault("path", valid_path)
        kwargs.setdefault("params", dict(plausible_query))
        return Case(method=method, description=description, **kwargs)

    for name in path_names:
        for text in BAD_TEXT:
            yield case(f"path {name}={text[:30]!r}", path=_fill_path(template, {name: text}))
    for name in query:
        for text in BAD_TEXT:
            yield case(f"query {name}={text[:30]!r}", params={**plausible_query, name: text})
        yield case(
            f"query {name} repeated", params={**plausible_query}, path=f"{valid_path}?{name}=1&{name}=2"
        )
    yield case("unknown query parameters", params={**plausible_query, "zzz": "💥", "limit": "-1"})

    if body_schema is None:
        yield case("unexpected JSON body", json_body={"unexpected": [1, 2, 3]}, has_json=True)
        return
    baseline = schemas.plausible(body_schema)
    yield case("no body")
    yield case("plausible body", json_body=baseline, has_json=True)
    for value in NON_OBJECT_BODIES:
        yield case(f"body {json.dumps(value)[:30]}", json_body=value, has_json=True)
    for content, content_type in RAW_BODIES:
        yield case(
            f"raw {content_type} {content[:20]!r}", content=content, headers={"content-type": content_type}
        )
    if isinstance(baseline, dict):
        yield case("extra unknown fields", json_body={**baseline, "zzz": {"a": [None]}}, has_json=True)
        for path in schemas.field_paths(body_schema):
            dotted = ".".join(path)
            yield case(f"body without {dotted}", json_body=_drop(baseline, path), has_json=True)
            for value in BAD_VALUES:
                yield case(
                    f"body {dotted}={json.dumps(value)[:30]}",
                    json_body=_set(baseline, path, value),
                    has_json=True,
                )


async def send(client: httpx.AsyncClient, case: Case, headers: dict[str, str]) -> httpx.Response:
    return await client.request(
        case.method,
        case.path,
        params=case.params or None,
        json=case.json_body if case.has_json else None,
        content=case.content,
        headers={**headers, **case.headers},
    )


def problem(response: httpx.Response) -> str | None:
    """What is wrong with this answer to bad input, or None."""
    if response.status_code >= 500 or response.status_code == 422:
        return f"{response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            return f"{response.status_code} not JSON: {response.text[:200]}"
        if not isinstance(body, dict) or not isinstance(body.get("message"), str):
            return f"{response.status_code} without a message: {response.text[:200]}"
    return None


async def operations(client: httpx.AsyncClient) -> list[tuple[str, str, dict[str, Any]]]:
    document = (await client.get("/api/openapi.json")).json()
    found = [
        (path, method.upper(), operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert len(found) >= 10, "the OpenAPI document lists the app's routes"
    return found


async def test_malformed_input_never_gets_a_5xx_on_any_route(
    lenient_client: httpx.AsyncClient, app: FastAPI
) -> None:
    # The test app's local compute backend has no worker credential (a server without
    # embedded workers), so scaling it is refused with 503; here it starts stand-in
    # workers that sleep, so the valid requests to the cluster routes can succeed.
    # The app's shutdown stops them.
    await app.state.cluster.close()
    app.state.cluster = LocalBackend(env={}, command=[sys.executable, "-c", "import time; time.sleep(60)"])
    document = (await lenient_client.get("/api/openapi.json")).json()
    schemas = Schemas(document)
    failures: list[str] = []
    tried = 0
    for template, method, operation in await operations(lenient_client):
        # A fresh admin per operation: a DELETE may remove what the next one needs.
        admin = bearer(token_for(app, await make_user(app, roles=[Role.ADMIN])))
        for case in cases_for(schemas, template, method, operation):
            tried += 1
            response = await send(lenient_client, case, admin)
            if (issue := problem(response)) is not None:
                failures.append(f"{method} {template} [{case.description}] -> {issue}")
    assert tried > 500
    assert not failures, f"{len(failures)} of {tried} requests failed:\n" + "\n".join(failures[:60])


async def test_bad_credentials_never_get_a_5xx_on_any_route(lenient_client: httpx.AsyncClient) -> None:
    failures: list[str] = []
    for template, method, _operation in await operations(lenient_client):
        path = _fill_path(template, {})
        for headers in BAD_CREDENTIALS:
            response = await lenient_client.request(method, path, headers=headers)
            if (issue := problem(response)) is not None:
                failures.append(f"{method} {template} {headers!r:.60} -> {issue}")
    assert not failures, "\n".join(failures[:60])
