"""Map layers: everyone signed in lists them by title; admins create, change, delete."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from reefguide.spatial.models import MapLayer
from tests.spatial.helpers import Cast, add, get_row

LAYER: dict[str, Any] = {
    "id": "canonical_reefs",
    "layer_id": "reefs-layer",
    "title": "RRAP Canonical Reefs",
    "category": "reefs",
    "url": ["https://example.com/FeatureServer"],
    "url_type": "ArcGisFeatureServer",
    "server_layer_id_ref": "0",
    "info_url": "https://example.com/info",
    "attributions": "© Example",
    "reverse_range": True,
    "cluster": True,
    "label_prop": "reef_name",
    "layer_prefix": "Reef: ",
    "layer_postfix": None,
    "layer_options": {"visible": True, "style": {"stroke-line-dash": [4, 6]}},
    "layer_group_options": None,
}


async def test_layers_are_listed_by_title_to_any_signed_in_user(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    await add(
        app,
        MapLayer(id="z", title="Sites", url=[], url_type="XYZ"),
        MapLayer(id="a", title="Zoning", url=[], url_type="XYZ"),
        MapLayer(id="m", title="Cities", url=[], url_type="XYZ"),
    )
    response = await client.get("/api/map-layers", headers=cast["default"].headers)
    assert response.status_code == 200
    titles = [layer["title"] for layer in response.json()["layers"]]
    assert titles == ["Cities", "Reefs", "Sites", "Zoning"]


async def test_an_admin_creates_a_layer_with_every_field(client: httpx.AsyncClient, cast: Cast) -> None:
    response = await client.post("/api/map-layers", json=LAYER, headers=cast["admin"].headers)
    assert response.status_code == 201, response.text
    layer = response.json()["layer"]
    assert {key: layer[key] for key in LAYER} == LAYER
    assert set(layer) == {*LAYER, "created_at", "updated_at"}
    listed = (await client.get("/api/map-layers", headers=cast["owner"].headers)).json()["layers"]
    assert layer in listed


async def test_a_minimal_layer_takes_the_defaults(client: httpx.AsyncClient, cast: Cast) -> None:
    body = {"id": "plain", "title": "Plain", "url_type": "XYZ"}
    response = await client.post("/api/map-layers", json=body, headers=cast["admin"].headers)
    assert response.status_code == 201
    layer = response.json()["layer"]
    assert (layer["url"], layer["reverse_range"], layer["cluster"], layer["layer_options"]) == (
        [],
        False,
        False,
        None,
    )


async def test_a_taken_id_or_layer_id_is_409(client: httpx.AsyncClient, cast: Cast) -> None:
    admin = cast["admin"].headers
    assert (await client.post("/api/map-layers", json=LAYER, headers=admin)).status_code == 201
    same_id = await client.post("/api/map-layers", json={**LAYER, "layer_id": None}, headers=admin)
    assert same_id.status_code == 409
    assert same_id.json() == {"message": "A map layer with this id already exists"}
    same_layer_id = await client.post("/api/map-layers", json={**LAYER, "id": "other"}, headers=admin)
    assert same_layer_id.status_code == 409
    assert same_layer_id.json() == {"message": "Another map layer has this layer_id"}


async def test_a_layer_needs_id_title_and_url_type_and_no_unknown_fields(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    admin = cast["admin"].headers
    missing = await client.post("/api/map-layers", json={"id": "x"}, headers=admin)
    assert missing.status_code == 400
    assert {error["field"] for error in missing.json()["errors"]} == {"title", "url_type"}
    unknown = await client.post("/api/map-layers", json={**LAYER, "urlType": "XYZ"}, headers=admin)
    assert unknown.status_code == 400


async def test_an_update_changes_only_the_fields_sent(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    admin = cast["admin"].headers
    await client.post("/api/map-layers", json=LAYER, headers=admin)
    response = await client.put(
        "/api/map-layers/canonical_reefs",
        json={"title": "Reefs (2025)", "layer_options": None},
        headers=admin,
    )
    assert response.status_code == 200
    layer = response.json()["layer"]
    assert layer["title"] == "Reefs (2025)"
    assert layer["layer_options"] is None
    assert layer["url"] == LAYER["url"]
    assert layer["cluster"] is True
    stored = await get_row(app, MapLayer, "canonical_reefs")
    assert (stored.title, stored.label_prop) == ("Reefs (2025)", "reef_name")


async def test_an_update_may_not_null_a_required_field_or_change_the_id(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    admin = cast["admin"].headers
    path = f"/api/map-layers/{cast.first.layer_id}"
    assert (await client.put(path, json={"title": None}, headers=admin)).status_code == 400
    assert (await client.put(path, json={"id": "renamed"}, headers=admin)).status_code == 400


async def test_updating_to_a_taken_layer_id_is_409_and_an_unknown_layer_404(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    admin = cast["admin"].headers
    await client.post("/api/map-layers", json=LAYER, headers=admin)
    taken = await client.put(
        f"/api/map-layers/{cast.first.layer_id}", json={"layer_id": "reefs-layer"}, headers=admin
    )
    assert taken.status_code == 409
    own = await client.put("/api/map-layers/canonical_reefs", json={"layer_id": "reefs-layer"}, headers=admin)
    assert own.status_code == 200
    unknown = await client.put("/api/map-layers/nope", json={"title": "X"}, headers=admin)
    assert unknown.status_code == 404
    assert unknown.json() == {"message": "Map layer not found"}


async def test_deleting_a_layer_removes_it(client: httpx.AsyncClient, app: FastAPI, cast: Cast) -> None:
    admin = cast["admin"].headers
    response = await client.delete(f"/api/map-layers/{cast.first.layer_id}", headers=admin)
    assert response.status_code == 204
    assert await get_row(app, MapLayer, cast.first.layer_id) is None
    again = await client.delete(f"/api/map-layers/{cast.first.layer_id}", headers=admin)
    assert again.status_code == 404
