"""Who may call each spatial route: the owner, a stranger, someone the project is
shared with directly, a member and a manager of a group it is shared with, an
admin, a DEFAULT-role user and an anonymous caller.

Something the caller may not read answers 404, something they may read but not
change answers 403; a missing role is 403 and missing credentials 401. Each route
is one test that calls it as each of the eight, each on a polygon, note and layer
of its own, and lists every caller whose answer differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from reefguide.spatial.models import MapLayer, Polygon, PolygonNote
from tests.spatial.helpers import (
    CALLERS,
    LAYER_TITLE,
    OTHER_SQUARE,
    OWNERS_NOTE,
    SQUARE,
    Cast,
    Target,
    add_polygon,
    add_project,
    get_row,
)


@dataclass(frozen=True)
class Route:
    method: str
    path: Callable[[Target], str]
    body: Callable[[Target], Any] | None
    # Status per caller, in the order of CALLERS.
    statuses: tuple[int, ...]

    def expected(self) -> dict[str, int]:
        return dict(zip(CALLERS, self.statuses, strict=True))


#         owner stranger share member manager admin default anonymous
READ = (200, 404, 200, 200, 200, 200, 403, 401)
CHANGE = (200, 404, 403, 403, 403, 200, 403, 401)
DELETE = (204, 404, 403, 403, 403, 204, 403, 401)
ANY_ANALYST = (200, 200, 200, 200, 200, 200, 403, 401)
ANY_USER = (200, 200, 200, 200, 200, 200, 200, 401)
ADMIN_CREATES = (403, 403, 403, 403, 403, 201, 403, 401)
ADMIN_CHANGES = (403, 403, 403, 403, 403, 200, 403, 401)
ADMIN_DELETES = (403, 403, 403, 403, 403, 204, 403, 401)

ROUTES = {
    # Polygons.
    "POST /polygons": Route("POST", lambda t: "/api/polygons", lambda t: {"polygon": SQUARE}, ANY_ANALYST),
    "POST /polygons in the project": Route(
        "POST", lambda t: "/api/polygons", lambda t: {"polygon": SQUARE, "projectId": t.project_id}, READ
    ),
    "GET /polygons": Route("GET", lambda t: "/api/polygons", None, ANY_ANALYST),
    "GET /polygons?projectId": Route("GET", lambda t: f"/api/polygons?projectId={t.project_id}", None, READ),
    "GET /polygons?format=geojson": Route("GET", lambda t: "/api/polygons?format=geojson", None, ANY_ANALYST),
    "GET /polygons?format=kml": Route("GET", lambda t: "/api/polygons?format=kml", None, ANY_ANALYST),
    "GET /polygons/:id": Route("GET", lambda t: f"/api/polygons/{t.polygon_id}", None, READ),
    "PUT /polygons/:id": Route(
        "PUT", lambda t: f"/api/polygons/{t.polygon_id}", lambda t: {"polygon": OTHER_SQUARE}, CHANGE
    ),
    "DELETE /polygons/:id": Route("DELETE", lambda t: f"/api/polygons/{t.polygon_id}", None, DELETE),
    # Notes.
    "GET /notes": Route("GET", lambda t: "/api/notes", None, ANY_ANALYST),
    "GET /notes/:polygonId": Route("GET", lambda t: f"/api/notes/{t.polygon_id}", None, READ),
    "GET /notes/polygon/:id": Route("GET", lambda t: f"/api/notes/polygon/{t.polygon_id}", None, READ),
    "POST /notes": Route(
        "POST", lambda t: "/api/notes", lambda t: {"content": "Seen", "polygonId": t.polygon_id}, READ
    ),
    "PUT /notes/:id": Route(
        "PUT", lambda t: f"/api/notes/{t.note_id}", lambda t: {"content": "Edited"}, CHANGE
    ),
    "DELETE /notes/:id": Route("DELETE", lambda t: f"/api/notes/{t.note_id}", None, DELETE),
    # Map layers.
    "GET /map-layers": Route("GET", lambda t: "/api/map-layers", None, ANY_USER),
    "POST /map-layers": Route(
        "POST",
        lambda t: "/api/map-layers",
        lambda t: {"id": f"new-{t.layer_id}", "title": "Sites", "url": [], "url_type": "XYZ"},
        ADMIN_CREATES,
    ),
    "PUT /map-layers/:id": Route(
        "PUT", lambda t: f"/api/map-layers/{t.layer_id}", lambda t: {"title": "Renamed"}, ADMIN_CHANGES
    ),
    "DELETE /map-layers/:id": Route("DELETE", lambda t: f"/api/map-layers/{t.layer_id}", None, ADMIN_DELETES),
}


async def refused_change_changed_nothing(app: FastAPI, target: Target) -> bool:
    polygon = await get_row(app, Polygon, target.polygon_id)
    note = await get_row(app, PolygonNote, target.note_id)
    layer = await get_row(app, MapLayer, target.layer_id)
    return (
        polygon is not None
        and polygon.polygon == SQUARE
        and note is not None
        and note.content == OWNERS_NOTE
        and layer is not None
        and layer.title == LAYER_TITLE
    )


@pytest.mark.parametrize("route_name", list(ROUTES))
async def test_route_answers_each_caller_as_the_rules_say(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast, route_name: str
) -> None:
    route = ROUTES[route_name]
    wrong: list[str] = []
    for who, expected in route.expected().items():
        target = await cast.new_target(app)
        body = route.body(target) if route.body is not None else None
        response = await client.request(
            route.method, route.path(target), json=body, headers=cast[who].headers
        )
        if response.status_code != expected:
            wrong.append(f"{who}: {response.status_code} (expected {expected}) {response.text[:200]}")
        elif expected >= 400 and not isinstance(response.json().get("message"), str):
            wrong.append(f"{who}: {expected} without a message")
        elif (
            expected >= 400
            and route.method != "GET"
            and not await refused_change_changed_nothing(app, target)
        ):
            wrong.append(f"{who}: refused with {expected}, but something changed")
    assert not wrong, f"{route_name}:\n" + "\n".join(wrong)


# What the lists show each caller.

SEES_THE_POLYGON = {"owner", "direct_share", "group_member", "group_manager", "admin"}
ANALYSTS = ["owner", "stranger", "direct_share", "group_member", "group_manager", "admin"]


async def test_the_polygon_list_holds_what_each_caller_may_read(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    for who in ANALYSTS:
        response = await client.get("/api/polygons", headers=cast[who].headers)
        polygons = response.json()["polygons"]
        expected = [cast.first.polygon_id] if who in SEES_THE_POLYGON else []
        assert [polygon["id"] for polygon in polygons] == expected, who
        for polygon in polygons:
            assert [note["id"] for note in polygon["notes"]] == [cast.first.note_id], who


async def test_the_note_list_holds_the_callers_own_notes_and_every_note_for_an_admin(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    for who in ANALYSTS:
        response = await client.get("/api/notes", headers=cast[who].headers)
        expected = [cast.first.note_id] if who in {"owner", "admin"} else []
        assert [note["id"] for note in response.json()["notes"]] == expected, who


async def test_a_missing_role_a_refused_change_and_a_hidden_polygon_say_different_things(
    client: httpx.AsyncClient, cast: Cast
) -> None:
    path = f"/api/polygons/{cast.first.polygon_id}"
    role = await client.get(path, headers=cast["default"].headers)
    change = await client.delete(path, headers=cast["direct_share"].headers)
    hidden = await client.delete(path, headers=cast["stranger"].headers)
    assert role.json() == {"message": "You do not have permission to do this"}
    assert change.json() == {"message": "You may not change this polygon"}
    assert hidden.json() == {"message": "Polygon not found"}


async def test_a_public_project_makes_its_polygons_readable_but_not_changeable(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    project_id = await add_project(app, cast["owner"], name="Open data", public=True)
    polygon_id = await add_polygon(app, cast["owner"], project_id=project_id)
    stranger = cast["stranger"].headers
    assert (await client.get(f"/api/polygons/{polygon_id}", headers=stranger)).status_code == 200
    update = await client.put(f"/api/polygons/{polygon_id}", json={"polygon": SQUARE}, headers=stranger)
    assert update.status_code == 403
    assert (await client.get(f"/api/polygons/{cast.first.polygon_id}", headers=stranger)).status_code == 404


async def test_a_polygon_outside_any_project_is_its_owners_alone(
    client: httpx.AsyncClient, app: FastAPI, cast: Cast
) -> None:
    polygon_id = await add_polygon(app, cast["owner"])
    for who in ["stranger", "direct_share", "group_member", "group_manager"]:
        response = await client.get(f"/api/polygons/{polygon_id}", headers=cast[who].headers)
        assert response.status_code == 404, who
    for who in ["owner", "admin"]:
        response = await client.get(f"/api/polygons/{polygon_id}", headers=cast[who].headers)
        assert response.status_code == 200, who
