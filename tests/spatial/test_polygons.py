"""Polygons through the API: shapes, validation messages, storage exactly as sent,
reading, updating, deleting."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select

from reefguide.projects.models import Project
from reefguide.spatial.models import Polygon, PolygonNote
from tests.spatial.helpers import (
    OTHER_SQUARE,
    SQUARE,
    Cast,
    add_note,
    add_polygon,
    add_project,
    count_rows,
    get_row,
)

BOWTIE = {
    "type": "Polygon",
    "coordinates": [[[146.0, -18.0], [146.1, -18.1], [146.1, -18.0], [146.0, -18.1], [146.0, -18.0]]],
}


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


async def test_creating_a_polygon_answers_200_with_the_original_shape(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    owner = cast["owner"]
    response = await client.post("/api/polygons", json={"polygon": SQUARE}, headers=owner.headers)
    assert response.status_code == 200
    polygon = response.json()["polygon"]
    assert set(polygon) == {"id", "created_at", "user_id", "project_id", "polygon"}
    assert polygon["user_id"] == owner.id
    assert polygon["project_id"] is None
    assert polygon["polygon"] == SQUARE


async def test_a_polygon_can_be_created_in_a_project_the_caller_may_read(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    body = {"polygon": SQUARE, "projectId": cast.project_id}
    response = await client.post("/api/polygons", json=body, headers=cast["group_member"].headers)
    assert response.status_code == 200
    assert response.json()["polygon"]["project_id"] == cast.project_id


async def test_creating_in_an_unknown_project_is_404(client: httpx.AsyncClient, cast: Cast) -> None:
    body = {"polygon": SQUARE, "projectId": cast.project_id + 1000}
    response = await client.post("/api/polygons", json=body, headers=cast["admin"].headers)
    assert response.status_code == 404
    assert response.json() == {"message": "Project not found"}


async def test_the_stored_geometry_is_exactly_what_was_sent(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    sent = {
        "type": "MultiPolygon",
        "coordinates": [
            [
                [[146, -18], [146.12345678901234, -18], [146.1, -18.1, 12.5], [146, -18]],
                [[146.05, -18.02], [146.07, -18.02], [146.07, -18.03], [146.05, -18.02]],
            ],
            [[[147.0, -19.0], [147.1, -19.0], [147.1, -19.1], [147.0, -19.0]]],
        ],
        "bbox": [146, -19.1, 147.1, -18],
        "properties_are_not_geojson_here": {"kept": [1, "two", None, True]},
    }
    created = await client.post("/api/polygons", json={"polygon": sent}, headers=cast["owner"].headers)
    assert created.status_code == 200, created.text
    polygon_id = created.json()["polygon"]["id"]

    stored = (await get_row(app, Polygon, polygon_id)).polygon
    read = (await client.get(f"/api/polygons/{polygon_id}", headers=cast["owner"].headers)).json()
    # Byte for byte, up to key order (PostgreSQL's jsonb keeps its own): integers stay
    # integers, every digit of every float survives, foreign members stay.
    for value in (stored, read["polygon"]["polygon"], created.json()["polygon"]["polygon"]):
        assert canonical(value) == canonical(sent)
    assert type(stored["coordinates"][0][0][0][0]) is int


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        (BOWTIE, "Self-intersection at [146.05, -18.05]"),
        (
            {
                "type": "Polygon",
                "coordinates": [[[146.0, -18.0], [146.1, -18.0], [146.1, -18.1], [146.0, -18.2]]],
            },
            "Ring 0 is not closed: its last position [146, -18.2] must repeat its first [146, -18]",
        ),
        (
            {"type": "Polygon", "coordinates": [[[146.0, -18.0], [146.1, -18.0], [146.0, -18.0]]]},
            "Ring 0 has 3 positions; a ring needs at least 4 (the last repeating the first)",
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [[[146.0, -18.0], [200, -18.0], [146.1, -18.1], [146.0, -18.0]]],
            },
            "Ring 0, position 1: longitude 200 is outside -180 to 180",
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [[[146.0, -18.0], [146.1, -98.5], [146.1, -18.1], [146.0, -18.0]]],
            },
            "Ring 0, position 1: latitude -98.5 is outside -90 to 90",
        ),
        (
            {"type": "Point", "coordinates": [146.0, -18.0]},
            'Geometry type must be "Polygon" or "MultiPolygon", not "Point"',
        ),
        (
            {"type": "MultiPolygon", "coordinates": [SQUARE["coordinates"], BOWTIE["coordinates"]]},
            "Polygon 1: Self-intersection at [146.05, -18.05]",
        ),
        ("not geojson", 'The polygon must be a GeoJSON geometry object with a "type"'),
    ],
    ids=[
        "self-intersection",
        "unclosed",
        "too short",
        "longitude",
        "latitude",
        "point",
        "multipolygon",
        "text",
    ],
)
async def test_an_invalid_geometry_is_400_saying_what_and_where(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast, geometry: Any, message: str
) -> None:
    before = await count_rows(app, Polygon)
    response = await client.post("/api/polygons", json={"polygon": geometry}, headers=cast["owner"].headers)
    assert response.status_code == 400
    assert response.json() == {"message": message}
    assert await count_rows(app, Polygon) == before


async def test_an_invalid_update_is_400_and_changes_nothing(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    path = f"/api/polygons/{cast.first.polygon_id}"
    response = await client.put(path, json={"polygon": BOWTIE}, headers=cast["owner"].headers)
    assert response.status_code == 400
    assert response.json() == {"message": "Self-intersection at [146.05, -18.05]"}
    assert (await get_row(app, Polygon, cast.first.polygon_id)).polygon == SQUARE


async def test_a_missing_polygon_field_is_400_naming_it(client: httpx.AsyncClient, cast: Cast) -> None:
    response = await client.post(
        "/api/polygons", json={"projectId": cast.project_id}, headers=cast["owner"].headers
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "polygon", "message": "Field required"}]


@pytest.mark.parametrize("settings_overrides", [{"max_polygon_vertices": 8}])
async def test_more_positions_than_max_polygon_vertices_is_400(client: httpx.AsyncClient, cast: Cast) -> None:
    ring = [[146.0, -18.0], [146.1, -18.0], [146.2, -18.05], [146.1, -18.1], [146.0, -18.1], [145.9, -18.05]]
    within = {"type": "Polygon", "coordinates": [[*ring, [145.95, -18.02], ring[0]]]}
    beyond = {"type": "Polygon", "coordinates": [[*ring, [145.95, -18.02], [145.97, -18.01], ring[0]]]}
    ok = await client.post("/api/polygons", json={"polygon": within}, headers=cast["owner"].headers)
    assert ok.status_code == 200, ok.text
    refused = await client.post("/api/polygons", json={"polygon": beyond}, headers=cast["owner"].headers)
    assert refused.status_code == 400
    assert refused.json() == {"message": "The polygon has 9 positions; at most 8 are allowed"}


async def test_reading_a_polygon_gives_its_owner_and_notes(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    reader = cast["direct_share"]
    second = await add_note(app, reader, cast.first.polygon_id, "A reader's note")
    response = await client.get(f"/api/polygons/{cast.first.polygon_id}", headers=reader.headers)
    assert response.status_code == 200
    polygon = response.json()["polygon"]
    assert polygon["user"] == {"id": cast["owner"].id, "email": cast["owner"].user.email}
    assert polygon["polygon"] == SQUARE
    assert polygon["project_id"] == cast.project_id
    notes = polygon["notes"]
    assert [note["id"] for note in notes] == [cast.first.note_id, second]
    assert set(notes[1]) == {"id", "created_at", "content", "user_id", "polygon_id", "user"}
    assert notes[1]["user"] == {"id": reader.id, "email": reader.user.email}
    assert notes[1]["content"] == "A reader's note"


async def test_an_unknown_polygon_is_404(client: httpx.AsyncClient, cast: Cast) -> None:
    response = await client.get("/api/polygons/999999", headers=cast["admin"].headers)
    assert response.status_code == 404
    assert response.json() == {"message": "Polygon not found"}


async def test_updating_replaces_the_geometry(client: httpx.AsyncClient, app: FastAPI, cast: Cast) -> None:
    path = f"/api/polygons/{cast.first.polygon_id}"
    response = await client.put(path, json={"polygon": OTHER_SQUARE}, headers=cast["owner"].headers)
    assert response.status_code == 200
    assert response.json()["polygon"]["polygon"] == OTHER_SQUARE
    assert response.json()["polygon"]["project_id"] == cast.project_id
    assert (await get_row(app, Polygon, cast.first.polygon_id)).polygon == OTHER_SQUARE


async def test_an_admin_may_update_anyones_polygon(client: httpx.AsyncClient, cast: Cast) -> None:
    path = f"/api/polygons/{cast.first.polygon_id}"
    response = await client.put(path, json={"polygon": OTHER_SQUARE}, headers=cast["admin"].headers)
    assert response.status_code == 200
    assert response.json()["polygon"]["user_id"] == cast["owner"].id


async def test_deleting_a_polygon_deletes_its_notes(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    await add_note(app, cast["group_member"], cast.first.polygon_id, "Another")
    response = await client.delete(f"/api/polygons/{cast.first.polygon_id}", headers=cast["owner"].headers)
    assert response.status_code == 204
    assert response.content == b""
    assert await get_row(app, Polygon, cast.first.polygon_id) is None
    async with app.state.sessionmaker() as session:
        left = await session.scalars(
            select(PolygonNote).where(PolygonNote.polygon_id == cast.first.polygon_id)
        )
        assert left.all() == []
    again = await client.get(f"/api/polygons/{cast.first.polygon_id}", headers=cast["owner"].headers)
    assert again.status_code == 404


async def test_deleting_a_project_deletes_its_polygons_and_their_notes(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    other_project = await add_project(app, cast["owner"], name="Kept")
    kept = await add_polygon(app, cast["owner"], project_id=other_project)
    async with app.state.sessionmaker() as session:
        await session.execute(delete(Project).where(Project.id == cast.project_id))
        await session.commit()
    assert await get_row(app, Polygon, cast.first.polygon_id) is None
    assert await get_row(app, PolygonNote, cast.first.note_id) is None
    assert await get_row(app, Polygon, kept) is not None
    response = await client.get("/api/polygons", headers=cast["owner"].headers)
    assert [polygon["id"] for polygon in response.json()["polygons"]] == [kept]


async def test_text_no_database_can_store_is_400_on_both_databases(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    body = (
        b'{"polygon": {"type": "Polygon", "coordinates": %s, "name": "\\ud800"}}'
        % json.dumps(SQUARE["coordinates"]).encode()
    )
    headers = {**cast["owner"].headers, "content-type": "application/json"}
    response = await client.post("/api/polygons", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json() == {"message": "The polygon's text must be valid Unicode without NUL characters"}
    assert await count_rows(app, Polygon) == 1
