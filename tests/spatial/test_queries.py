"""GET /api/polygons runs the same number of SQL statements for 3 polygons as for 30."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event

from reefguide.spatial.models import Polygon, PolygonNote
from tests.spatial.helpers import Cast, add, square


@contextmanager
def counting_statements(app: FastAPI) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def add_polygons_with_notes(app: FastAPI, cast: Cast, count: int) -> None:
    """`count` polygons in the shared project, from two owners, with two notes each."""
    owners = [cast["owner"], cast["direct_share"]]
    polygons = [
        Polygon(user_id=owners[i % 2].id, project_id=cast.project_id, polygon=square(i * 0.2))
        for i in range(count)
    ]
    await add(app, *polygons)
    await add(
        app,
        *(
            PolygonNote(user_id=author.id, polygon_id=polygon.id, content=f"Note {n}")
            for polygon in polygons
            for n, author in enumerate(owners)
        ),
    )


async def statements_for_list(client: httpx.AsyncClient, app: FastAPI, cast: Cast, **params: Any) -> int:
    with counting_statements(app) as statements:
        response = await client.get("/api/polygons", params=params, headers=cast["group_member"].headers)
    assert response.status_code == 200
    return len(statements)


async def test_listing_polygons_runs_a_fixed_number_of_statements(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    await add_polygons_with_notes(app, cast, 2)  # with the cast's own: 3
    small = await statements_for_list(client, app, cast)
    small_export = await statements_for_list(client, app, cast, format="kml")
    await add_polygons_with_notes(app, cast, 27)  # 30
    response = await client.get("/api/polygons", headers=cast["group_member"].headers)
    assert len(response.json()["polygons"]) == 30
    assert all(len(polygon["notes"]) >= 1 for polygon in response.json()["polygons"])
    assert await statements_for_list(client, app, cast) == small
    assert await statements_for_list(client, app, cast, format="kml") == small_export
    assert small <= 6, small
