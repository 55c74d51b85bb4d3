"""HTTP routes of /api/polygons (ANALYST or ADMIN).

A polygon keeps the original's snake_case fields: `{id, created_at, user_id,
project_id, polygon}`, with `user {id, email}` and `notes` when read.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from reefguide.auth.dependencies import AnalystUser
from reefguide.db.session import SessionDep
from reefguide.http.routing import ApiRouter
from reefguide.settings import Settings
from reefguide.spatial import export
from reefguide.spatial import service as polygons
from reefguide.spatial.schemas import (
    ExportFormat,
    PaginationOut,
    PolygonEnvelope,
    PolygonIn,
    PolygonListOut,
    PolygonOut,
    PolygonUpdateIn,
    PolygonWithNotesEnvelope,
    PolygonWithNotesOut,
)

router = ApiRouter(prefix="/polygons", tags=["polygons"])


async def _max_positions(request: Request) -> int:
    settings: Settings = request.app.state.settings
    return settings.max_polygon_vertices


MaxPositions = Annotated[int, Depends(_max_positions)]

GEOMETRY_RULES = (
    "The geometry is a GeoJSON Polygon or MultiPolygon: closed rings of at least 4 "
    "positions, longitude within ±180 and latitude within ±90, no self-intersection, "
    "at most MAX_POLYGON_VERTICES positions (default 100,000). A 400 says what is wrong "
    "and where. It is stored exactly as sent."
)

EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The page of polygons; with `format`, a GeoJSON FeatureCollection or a KML document",
        "content": {
            "application/json": {},
            export.KML_MEDIA_TYPE: {"schema": {"type": "string"}},
        },
    }
}


@router.post("", description=GEOMETRY_RULES)
async def create_polygon(
    body: PolygonIn, session: SessionDep, user: AnalystUser, max_positions: MaxPositions
) -> PolygonEnvelope:
    """Create a polygon, in `projectId` if given (a project the caller may read; 404 otherwise)."""
    polygon = await polygons.create_polygon(
        session, user, body.polygon, project_id=body.project_id, max_positions=max_positions
    )
    return PolygonEnvelope(polygon=PolygonOut.model_validate(polygon))


@router.get("", response_model=PolygonListOut, responses=EXPORT_RESPONSES)
async def list_polygons(
    session: SessionDep,
    user: AnalystUser,
    project_id: Annotated[
        int | None, Query(alias="projectId", description="Only this project's (404 if not readable)")
    ] = None,
    only_mine: Annotated[bool, Query(alias="onlyMine", description="Only the caller's own")] = False,
    limit: Annotated[
        int | None, Query(description="Clamped to 1–500; default 50, or every polygon with `format`")
    ] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    format: Annotated[ExportFormat | None, Query(description="A file instead of the JSON page")] = None,
) -> PolygonListOut | Response:
    """The polygons the caller may read (their own and those of projects they may
    read; every one for an admin), oldest first, each with its owner and notes.

    `format=geojson` answers a FeatureCollection whose features have the properties
    `{id, createdAt, createdBy, notes}`; `format=kml` the same as KML
    (`application/vnd.google-earth.kml+xml`) for Google Earth or QGIS. Exports hold
    every matching polygon unless `limit` is given."""
    where = polygons.PolygonFilter(project_id=project_id, only_mine=only_mine)
    if format is not None:
        page = await polygons.list_polygons(session, user, where, limit=limit, offset=offset)
        if format == "kml":
            return Response(export.to_kml(page.items), media_type=export.KML_MEDIA_TYPE)
        return JSONResponse(export.to_geojson(page.items))
    page = await polygons.list_polygons(
        session, user, where, limit=polygons.DEFAULT_LIMIT if limit is None else limit, offset=offset
    )
    return PolygonListOut(
        polygons=[PolygonWithNotesOut.of(view) for view in page.items],
        pagination=PaginationOut(total=page.total, limit=page.limit, offset=page.offset),
    )


@router.get("/{polygon_id}")
async def get_polygon(polygon_id: int, session: SessionDep, user: AnalystUser) -> PolygonWithNotesEnvelope:
    """A polygon the caller may read (its owner's, a readable project's, any for an
    admin), with its owner and the notes the caller may read. 404 otherwise."""
    view = await polygons.get_polygon(session, user, polygon_id)
    return PolygonWithNotesEnvelope(polygon=PolygonWithNotesOut.of(view))


@router.put("/{polygon_id}", description=GEOMETRY_RULES)
async def update_polygon(
    polygon_id: int,
    body: PolygonUpdateIn,
    session: SessionDep,
    user: AnalystUser,
    max_positions: MaxPositions,
) -> PolygonEnvelope:
    """Replace a polygon's geometry: its owner or an admin. 403 for others who may read
    it, 404 for the rest."""
    polygon = await polygons.update_polygon(
        session, user, polygon_id, body.polygon, max_positions=max_positions
    )
    return PolygonEnvelope(polygon=PolygonOut.model_validate(polygon))


@router.delete("/{polygon_id}", status_code=204)
async def delete_polygon(polygon_id: int, session: SessionDep, user: AnalystUser) -> None:
    """Delete a polygon and its notes: its owner or an admin. 403 for others who may
    read it, 404 for the rest. 204 as the README says (the original answered 200)."""
    await polygons.delete_polygon(session, user, polygon_id)
