"""GET /api/polygons: pagination, filters, GeoJSON and KML exports."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from typing import Any

import httpx
from fastapi import FastAPI
from fastkml import kml

from reefguide.spatial.models import Polygon
from tests.spatial.helpers import SQUARE, Cast, add, add_note, add_polygon, add_project, square

KML_NS = "{http://www.opengis.net/kml/2.2}"


async def add_polygons(app: FastAPI, owner_id: int, count: int, project_id: int | None = None) -> list[int]:
    polygons = [
        Polygon(user_id=owner_id, project_id=project_id, polygon=square(i * 0.2)) for i in range(count)
    ]
    await add(app, *polygons)
    return [polygon.id for polygon in polygons]


async def ids_of(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[int]:
    response = await client.get("/api/polygons", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [polygon["id"] for polygon in response.json()["polygons"]]


async def test_pages_follow_limit_and_offset(client: httpx.AsyncClient, app: FastAPI, cast: Cast) -> None:
    owner = cast["owner"]
    ids = [cast.first.polygon_id, *await add_polygons(app, owner.id, 6)]
    response = await client.get("/api/polygons", params={"limit": 3, "offset": 2}, headers=owner.headers)
    body = response.json()
    assert [polygon["id"] for polygon in body["polygons"]] == ids[2:5]
    assert body["pagination"] == {"total": 7, "limit": 3, "offset": 2}
    assert await ids_of(client, owner.headers, limit=3, offset=6) == ids[6:]
    assert await ids_of(client, owner.headers, offset=7) == []


async def test_the_default_page_is_50_and_a_limit_is_clamped_to_500(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    owner = cast["owner"]
    await add_polygons(app, owner.id, 54)
    default = (await client.get("/api/polygons", headers=owner.headers)).json()
    assert len(default["polygons"]) == 50
    assert default["pagination"] == {"total": 55, "limit": 50, "offset": 0}
    big = (await client.get("/api/polygons", params={"limit": 10_000}, headers=owner.headers)).json()
    assert len(big["polygons"]) == 55
    assert big["pagination"]["limit"] == 500
    small = (await client.get("/api/polygons", params={"limit": 0}, headers=owner.headers)).json()
    assert small["pagination"]["limit"] == 1


async def test_a_negative_offset_is_400(client: httpx.AsyncClient, cast: Cast) -> None:
    response = await client.get("/api/polygons", params={"offset": -1}, headers=cast["owner"].headers)
    assert response.status_code == 400


async def test_the_default_list_holds_own_polygons_and_readable_projects_polygons(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    member = cast["group_member"]
    own = await add_polygon(app, member)
    hidden = await add_polygon(app, cast["stranger"])
    assert await ids_of(client, member.headers) == [cast.first.polygon_id, own]
    assert await ids_of(client, member.headers, onlyMine="true") == [own]
    assert hidden not in await ids_of(client, member.headers)


async def test_an_admin_sees_every_polygon_unless_only_mine(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    admin = cast["admin"]
    strangers = await add_polygon(app, cast["stranger"])
    admins = await add_polygon(app, admin)
    assert await ids_of(client, admin.headers) == [cast.first.polygon_id, strangers, admins]
    assert await ids_of(client, admin.headers, onlyMine="true") == [admins]


async def test_project_id_filters_to_that_project(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    owner = cast["owner"]
    other_project = await add_project(app, owner, name="Elsewhere")
    elsewhere = await add_polygon(app, owner, project_id=other_project)
    await add_polygon(app, owner)
    assert await ids_of(client, owner.headers, projectId=cast.project_id) == [cast.first.polygon_id]
    assert await ids_of(client, owner.headers, projectId=other_project) == [elsewhere]
    shared = cast["direct_share"]
    assert await ids_of(client, shared.headers, projectId=cast.project_id) == [cast.first.polygon_id]
    assert await ids_of(client, shared.headers, projectId=cast.project_id, onlyMine="true") == []
    refused = await client.get("/api/polygons", params={"projectId": other_project}, headers=shared.headers)
    assert refused.status_code == 404
    assert refused.json() == {"message": "Project not found"}


async def test_list_items_carry_owner_and_notes(client: httpx.AsyncClient, cast: Cast) -> None:
    response = await client.get("/api/polygons", headers=cast["owner"].headers)
    polygon = response.json()["polygons"][0]
    assert polygon["user"] == {"id": cast["owner"].id, "email": cast["owner"].user.email}
    assert polygon["polygon"] == SQUARE
    assert [note["content"] for note in polygon["notes"]] == ["The owner's note"]


async def test_geojson_export_is_a_feature_collection_with_the_originals_properties(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    owner = cast["owner"]
    await add_note(app, cast["direct_share"], cast.first.polygon_id, "  Second thoughts  ")
    response = await client.get("/api/polygons", params={"format": "geojson"}, headers=owner.headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    [feature] = collection["features"]
    assert feature["type"] == "Feature"
    assert feature["geometry"] == SQUARE
    properties = feature["properties"]
    assert set(properties) == {"id", "createdAt", "createdBy", "notes"}
    assert properties["id"] == cast.first.polygon_id
    assert properties["createdBy"] == owner.user.email
    assert properties["createdAt"].endswith("Z")
    first, second = properties["notes"].split("\n\n")
    assert first.startswith("# ")
    assert first.endswith(f"UTC \u2014 {owner.user.email}\nThe owner's note")
    assert second.endswith(f"UTC \u2014 {cast['direct_share'].user.email}\nSecond thoughts")


async def test_exports_hold_every_matching_polygon_unless_limited(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    owner = cast["owner"]
    await add_polygons(app, owner.id, 60, project_id=cast.project_id)
    everything = await client.get("/api/polygons", params={"format": "geojson"}, headers=owner.headers)
    assert len(everything.json()["features"]) == 61
    limited = await client.get(
        "/api/polygons", params={"format": "geojson", "limit": 5, "offset": 1}, headers=owner.headers
    )
    assert len(limited.json()["features"]) == 5
    only_mine = await client.get(
        "/api/polygons",
        params={"format": "geojson", "onlyMine": "true"},
        headers=cast["direct_share"].headers,
    )
    assert only_mine.json() == {"type": "FeatureCollection", "features": []}


async def test_kml_export_opens_as_kml_with_the_polygons_coordinates(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    owner = cast["owner"]
    multi = {
        "type": "MultiPolygon",
        "coordinates": [
            [
                [[150.0, -20.0], [150.4, -20.0], [150.4, -20.4], [150.0, -20.4], [150.0, -20.0]],
                [[150.1, -20.1], [150.2, -20.1], [150.2, -20.2], [150.1, -20.1]],
            ],
            [[[151.0, -21.0, 3.5], [151.1, -21.0, 3.5], [151.1, -21.1, 3.5], [151.0, -21.0, 3.5]]],
        ],
    }
    second = await add_polygon(app, owner, multi, project_id=cast.project_id)
    response = await client.get(
        "/api/polygons", params={"format": "kml", "projectId": cast.project_id}, headers=owner.headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.google-earth.kml+xml"
    assert response.text.startswith('<?xml version="1.0" encoding="UTF-8"?>')

    # Plain XML: what Google Earth and QGIS read.
    root = ET.fromstring(response.content)  # noqa: S314 - our own output
    assert root.tag == f"{KML_NS}kml"
    placemarks = root.findall(f"{KML_NS}Document/{KML_NS}Placemark")
    assert [p.get("id") for p in placemarks] == [f"polygon-{cast.first.polygon_id}", f"polygon-{second}"]
    assert placemarks[0].findtext(f"{KML_NS}name") == owner.user.email
    description = placemarks[0].findtext(f"{KML_NS}description") or ""
    assert description.startswith("# ")
    assert description.endswith(f"UTC \u2014 {owner.user.email}\nThe owner's note")
    assert placemarks[0].findtext(f"{KML_NS}TimeStamp/{KML_NS}when")
    data = {d.get("name"): d.findtext(f"{KML_NS}value") for d in placemarks[0].iter(f"{KML_NS}Data")}
    assert data["id"] == str(cast.first.polygon_id)
    assert data["createdBy"] == owner.user.email

    def rings(placemark: ET.Element) -> list[list[list[float]]]:
        return [
            [[float(value) for value in point.split(",")] for point in (element.text or "").split()]
            for element in placemark.iter(f"{KML_NS}coordinates")
        ]

    assert rings(placemarks[0]) == SQUARE["coordinates"]
    assert rings(placemarks[1]) == [*multi["coordinates"][0], *multi["coordinates"][1]]
    outer = placemarks[1].findall(f".//{KML_NS}Polygon/{KML_NS}outerBoundaryIs")
    inner = placemarks[1].findall(f".//{KML_NS}Polygon/{KML_NS}innerBoundaryIs")
    assert (len(outer), len(inner)) == (2, 1)

    # And the KML library, validating against the KML 2.2 schema, reads back the same geometries.
    document = next(iter(kml.KML.parse(io.BytesIO(response.content), validate=True).features))
    shapes = [placemark.geometry for placemark in document.features]
    assert shapes[0].__geo_interface__["type"] == "Polygon"
    assert shapes[1].__geo_interface__["type"] == "MultiPolygon"
    assert shapes[1].__geo_interface__["coordinates"][1][0][0] == (151.0, -21.0, 3.5)


async def test_an_unknown_format_is_400(client: httpx.AsyncClient, cast: Cast) -> None:
    response = await client.get("/api/polygons", params={"format": "shp"}, headers=cast["owner"].headers)
    assert response.status_code == 400


async def test_kml_export_survives_characters_xml_cannot_hold(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    await add_note(app, cast["owner"], cast.first.polygon_id, "Tide\x01table \u00e9\U0001f30a")
    response = await client.get("/api/polygons", params={"format": "kml"}, headers=cast["owner"].headers)
    assert response.status_code == 200
    root = ET.fromstring(response.content)  # noqa: S314 - our own output
    description = root.findtext(f"{KML_NS}Document/{KML_NS}Placemark/{KML_NS}description") or ""
    assert description.endswith("Tide\ufffdtable \u00e9\U0001f30a")
