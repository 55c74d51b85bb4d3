"""Notes through the API: shapes, both per-polygon paths, empty content, who edits."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from reefguide.spatial.models import PolygonNote
from tests.spatial.helpers import Cast, add_note, add_polygon, count_rows, get_row

NOTE_FIELDS = {"id", "created_at", "content", "user_id", "polygon_id"}


async def test_adding_a_note_answers_200_with_the_original_shape(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    reader = cast["group_manager"]
    body = {"content": "Turbid water here", "polygonId": cast.first.polygon_id}
    response = await client.post("/api/notes", json=body, headers=reader.headers)
    assert response.status_code == 200
    note = response.json()["note"]
    assert set(note) == NOTE_FIELDS
    assert note["content"] == "Turbid water here"
    assert note["user_id"] == reader.id
    assert note["polygon_id"] == cast.first.polygon_id
    assert (await get_row(app, PolygonNote, note["id"])).content == "Turbid water here"


@pytest.mark.parametrize("content", ["", "   ", "\n\t"], ids=["empty", "spaces", "whitespace"])
async def test_empty_content_is_400(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast, content: str
) -> None:
    before = await count_rows(app, PolygonNote)
    body = {"content": content, "polygonId": cast.first.polygon_id}
    response = await client.post("/api/notes", json=body, headers=cast["owner"].headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "content"
    updated = await client.put(
        f"/api/notes/{cast.first.note_id}", json={"content": content}, headers=cast["owner"].headers
    )
    assert updated.status_code == 400
    assert await count_rows(app, PolygonNote) == before
    assert (await get_row(app, PolygonNote, cast.first.note_id)).content == "The owner's note"


async def test_a_note_needs_a_polygon_id(client: httpx.AsyncClient, cast: Cast) -> None:
    response = await client.post("/api/notes", json={"content": "Lost"}, headers=cast["owner"].headers)
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "polygonId", "message": "Field required"}]


async def test_a_note_on_an_unknown_polygon_is_404(client: httpx.AsyncClient, cast: Cast) -> None:
    body = {"content": "Nowhere", "polygonId": 999999}
    response = await client.post("/api/notes", json=body, headers=cast["admin"].headers)
    assert response.status_code == 404
    assert response.json() == {"message": "Polygon not found"}


async def test_both_paths_list_a_polygons_notes_oldest_first(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    reader = cast["direct_share"]
    second = await add_note(app, reader, cast.first.polygon_id, "Second")
    elsewhere = await add_polygon(app, cast["owner"], project_id=cast.project_id)
    await add_note(app, cast["owner"], elsewhere, "On another polygon")
    by_id = await client.get(f"/api/notes/{cast.first.polygon_id}", headers=reader.headers)
    by_path = await client.get(f"/api/notes/polygon/{cast.first.polygon_id}", headers=reader.headers)
    assert by_id.status_code == by_path.status_code == 200
    assert by_id.json() == by_path.json()
    notes = by_id.json()["notes"]
    assert [note["id"] for note in notes] == [cast.first.note_id, second]
    assert set(notes[0]) == {*NOTE_FIELDS, "user"}
    assert notes[0]["user"] == {"id": cast["owner"].id, "email": cast["owner"].user.email}


async def test_the_notes_of_an_unknown_polygon_are_404_on_both_paths(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    for path in ("/api/notes/999999", "/api/notes/polygon/999999"):
        response = await client.get(path, headers=cast["admin"].headers)
        assert response.status_code == 404
        assert response.json() == {"message": "Polygon not found"}


async def test_get_notes_lists_the_callers_notes_with_their_author(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    member = cast["group_member"]
    mine = await add_note(app, member, cast.first.polygon_id, "Mine")
    response = await client.get("/api/notes", headers=member.headers)
    assert response.status_code == 200
    [note] = response.json()["notes"]
    assert note["id"] == mine
    assert note["user"] == {"id": member.id, "email": member.user.email}
    everything = await client.get("/api/notes", headers=cast["admin"].headers)
    assert [n["id"] for n in everything.json()["notes"]] == [cast.first.note_id, mine]


async def test_the_author_edits_their_note_on_someone_elses_polygon(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    member = cast["group_member"]
    note_id = await add_note(app, member, cast.first.polygon_id, "Draft")
    response = await client.put(f"/api/notes/{note_id}", json={"content": "Final"}, headers=member.headers)
    assert response.status_code == 200
    assert response.json()["note"]["content"] == "Final"
    assert set(response.json()["note"]) == NOTE_FIELDS
    # The polygon's owner reads it but may not change it.
    refused = await client.put(
        f"/api/notes/{note_id}", json={"content": "Mine now"}, headers=cast["owner"].headers
    )
    assert refused.status_code == 403
    assert refused.json() == {"message": "You may not change this note"}
    assert (await get_row(app, PolygonNote, note_id)).content == "Final"


async def test_deleting_a_note_removes_it(client: httpx.AsyncClient, app: FastAPI, cast: Cast) -> None:
    response = await client.delete(f"/api/notes/{cast.first.note_id}", headers=cast["owner"].headers)
    assert response.status_code == 204
    assert await get_row(app, PolygonNote, cast.first.note_id) is None
    again = await client.delete(f"/api/notes/{cast.first.note_id}", headers=cast["owner"].headers)
    assert again.status_code == 404
    assert again.json() == {"message": "Note not found"}
