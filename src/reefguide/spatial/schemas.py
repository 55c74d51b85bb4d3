"""Request and response bodies of /api/polygons, /api/notes and /api/map-layers.

Envelopes and request bodies are camelCase. A polygon, a note and a map layer
keep the original's snake_case field names (it serialised the database rows as
they were).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from reefguide.schemas import ApiModel
from reefguide.spatial.notes import NoteView
from reefguide.spatial.service import PolygonView

MAX_NOTE_LENGTH = 100_000

EXAMPLE_POLYGON = {
    "type": "Polygon",
    "coordinates": [[[146.0, -18.0], [146.1, -18.0], [146.1, -18.1], [146.0, -18.1], [146.0, -18.0]]],
}

ExportFormat = Literal["geojson", "kml"]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("Note content must not be empty")
    return value


NoteContent = Annotated[str, Field(max_length=MAX_NOTE_LENGTH), AfterValidator(_not_blank)]
# Checked by `spatial.geometry` (which says where a geometry is wrong), not here.
Geometry = Annotated[
    Any,
    Field(
        description="A GeoJSON Polygon or MultiPolygon (longitude, latitude), stored exactly as sent",
        examples=[EXAMPLE_POLYGON],
    ),
]


# Rows, as the original serialised them.


class Owner(BaseModel):
    id: int
    email: str


class NoteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime
    content: str
    user_id: int
    polygon_id: int


class NoteWithUserOut(NoteOut):
    user: Owner

    @classmethod
    def of(cls, view: NoteView) -> NoteWithUserOut:
        note = view.note
        return cls(
            id=note.id,
            created_at=note.created_at,
            content=note.content,
            user_id=note.user_id,
            polygon_id=note.polygon_id,
            user=Owner(id=view.user.id, email=view.user.email),
        )


class PolygonOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime
    user_id: int
    project_id: int | None
    polygon: dict[str, Any]


class PolygonWithNotesOut(PolygonOut):
    user: Owner
    notes: list[NoteWithUserOut] = Field(description="The notes the caller may read, oldest first")

    @classmethod
    def of(cls, view: PolygonView) -> PolygonWithNotesOut:
        polygon = view.polygon
        return cls(
            id=polygon.id,
            created_at=polygon.created_at,
            user_id=polygon.user_id,
            project_id=polygon.project_id,
            polygon=polygon.polygon,
            user=Owner(id=view.user.id, email=view.user.email),
            notes=[NoteWithUserOut.of(note) for note in view.notes],
        )


class MapLayerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    layer_id: str | None
    title: str
    category: str | None
    url: list[str]
    url_type: str
    server_layer_id_ref: str | None
    info_url: str | None
    attributions: str | None
    reverse_range: bool
    cluster: bool
    label_prop: str | None
    layer_prefix: str | None
    layer_postfix: str | None
    layer_options: dict[str, Any] | None
    layer_group_options: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


# Polygons.


class PolygonIn(ApiModel):
    polygon: Geometry
    project_id: int | None = Field(default=None, description="A project the caller may read")


class PolygonUpdateIn(ApiModel):
    polygon: Geometry


class PolygonEnvelope(ApiModel):
    polygon: PolygonOut


class PolygonWithNotesEnvelope(ApiModel):
    polygon: PolygonWithNotesOut


class PaginationOut(ApiModel):
    total: int
    limit: int
    offset: int


class PolygonListOut(ApiModel):
    polygons: list[PolygonWithNotesOut]
    pagination: PaginationOut


# Notes.


class NoteIn(ApiModel):
    content: NoteContent
    polygon_id: int


class NoteUpdateIn(ApiModel):
    content: NoteContent


class NoteEnvelope(ApiModel):
    note: NoteOut


class NoteListOut(ApiModel):
    notes: list[NoteWithUserOut]


# Map layers: the row's own snake_case names, in requests too.


class _MapLayerFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    layer_id: str | None = Field(default=None, min_length=1, max_length=200)
    category: str | None = Field(default=None, max_length=200)
    url: list[Annotated[str, Field(min_length=1, max_length=2000)]] = Field(default_factory=list)
    server_layer_id_ref: str | None = Field(default=None, max_length=500)
    info_url: str | None = Field(default=None, max_length=2000)
    attributions: str | None = Field(default=None, max_length=10_000)
    reverse_range: bool = False
    cluster: bool = False
    label_prop: str | None = Field(default=None, max_length=200)
    layer_prefix: str | None = Field(default=None, max_length=500)
    layer_postfix: str | None = Field(default=None, max_length=500)
    layer_options: dict[str, Any] | None = None
    layer_group_options: dict[str, Any] | None = None


class MapLayerIn(_MapLayerFields):
    id: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=500)
    url_type: str = Field(min_length=1, max_length=100)


class MapLayerUpdateIn(_MapLayerFields):
    """Only the fields sent change; the id cannot."""

    title: str | None = Field(default=None, min_length=1, max_length=500)
    url_type: str | None = Field(default=None, min_length=1, max_length=100)

    @field_validator("title", "url_type", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Omitted means unchanged; null would empty a required column.
        if value is None:
            raise ValueError("May be omitted, but not null")
        return value


class MapLayerEnvelope(ApiModel):
    layer: MapLayerOut


class MapLayerListOut(ApiModel):
    layers: list[MapLayerOut]
