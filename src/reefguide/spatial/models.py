"""Polygons (GeoJSON, stored exactly as sent), their notes, and map layers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from reefguide.db.base import Base, JSONType, Timestamps


class Polygon(Timestamps, Base):
    __tablename__ = "polygons"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    polygon: Mapped[dict[str, Any]] = mapped_column(JSONType)


class PolygonNote(Timestamps, Base):
    __tablename__ = "polygon_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    content: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    polygon_id: Mapped[int] = mapped_column(ForeignKey("polygons.id", ondelete="CASCADE"), index=True)


class MapLayer(Timestamps, Base):
    """A layer a client can show on its map. Ids are strings, as in the original."""

    __tablename__ = "map_layers"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    layer_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    category: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[list[str]] = mapped_column(JSONType, default=list)
    url_type: Mapped[str] = mapped_column(String(100))
    server_layer_id_ref: Mapped[str | None] = mapped_column(String(500))
    info_url: Mapped[str | None] = mapped_column(Text)
    attributions: Mapped[str | None] = mapped_column(Text)
    reverse_range: Mapped[bool] = mapped_column(default=False)
    cluster: Mapped[bool] = mapped_column(default=False)
    label_prop: Mapped[str | None] = mapped_column(String(200))
    layer_prefix: Mapped[str | None] = mapped_column(String(500))
    layer_postfix: Mapped[str | None] = mapped_column(String(500))
    layer_options: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    layer_group_options: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
