"""Map layers: the layers a client offers on its map. Everyone signed in reads them;
admins create, change and delete them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from reefguide.errors import Conflict, NotFound
from reefguide.spatial.models import MapLayer


async def list_layers(session: AsyncSession) -> list[MapLayer]:
    """Every layer, by title (then id, so equal titles keep one order)."""
    return list(await session.scalars(select(MapLayer).order_by(MapLayer.title, MapLayer.id)))


async def create_layer(session: AsyncSession, values: dict[str, Any]) -> MapLayer:
    """A new layer; 409 when its `id` or `layer_id` is taken."""
    if await session.get(MapLayer, values["id"]) is not None:
        raise Conflict("A map layer with this id already exists")
    await _check_layer_id_free(session, values.get("layer_id"), keep=None)
    layer = MapLayer(**values)
    session.add(layer)
    await session.flush()
    await session.refresh(layer)
    return layer


async def update_layer(session: AsyncSession, layer_id: str, changes: dict[str, Any]) -> MapLayer:
    """Change the given fields of a layer; 404 if there is none, 409 for a taken `layer_id`."""
    layer = await _get(session, layer_id)
    if "layer_id" in changes:
        await _check_layer_id_free(session, changes["layer_id"], keep=layer.id)
    for name, value in changes.items():
        setattr(layer, name, value)
    await session.flush()
    await session.refresh(layer)
    return layer


async def delete_layer(session: AsyncSession, layer_id: str) -> None:
    layer = await _get(session, layer_id)
    await session.execute(delete(MapLayer).where(MapLayer.id == layer.id))


async def _get(session: AsyncSession, layer_id: str) -> MapLayer:
    layer = await session.get(MapLayer, layer_id)
    if layer is None:
        raise NotFound("Map layer not found")
    return layer


async def _check_layer_id_free(session: AsyncSession, layer_id: str | None, *, keep: str | None) -> None:
    if layer_id is None:
        return
    holder = await session.scalar(select(MapLayer.id).where(MapLayer.layer_id == layer_id))
    if holder is not None and holder != keep:
        raise Conflict("Another map layer has this layer_id")
