"""HTTP routes of /api/map-layers: everyone signed in reads, admins write.

A layer keeps the original's snake_case fields, in requests too.
"""

from __future__ import annotations

from reefguide.auth.dependencies import AdminUser, CurrentUser
from reefguide.db.session import SessionDep
from reefguide.http.routing import ApiRouter
from reefguide.spatial import map_layers
from reefguide.spatial.schemas import (
    MapLayerEnvelope,
    MapLayerIn,
    MapLayerListOut,
    MapLayerOut,
    MapLayerUpdateIn,
)

router = ApiRouter(prefix="/map-layers", tags=["map layers"])


@router.get("")
async def list_map_layers(session: SessionDep, _user: CurrentUser) -> MapLayerListOut:
    """Every map layer, sorted by title."""
    layers = await map_layers.list_layers(session)
    return MapLayerListOut(layers=[MapLayerOut.model_validate(layer) for layer in layers])


@router.post("", status_code=201)
async def create_map_layer(body: MapLayerIn, session: SessionDep, _admin: AdminUser) -> MapLayerEnvelope:
    """Add a layer. 409 when its `id` or `layer_id` is taken."""
    layer = await map_layers.create_layer(session, body.model_dump())
    return MapLayerEnvelope(layer=MapLayerOut.model_validate(layer))


@router.put("/{layer_id}")
async def update_map_layer(
    layer_id: str, body: MapLayerUpdateIn, session: SessionDep, _admin: AdminUser
) -> MapLayerEnvelope:
    """Change the fields sent (the others stay); the id cannot change. 404 for an
    unknown layer, 409 when `layer_id` is another layer's."""
    layer = await map_layers.update_layer(session, layer_id, body.model_dump(exclude_unset=True))
    return MapLayerEnvelope(layer=MapLayerOut.model_validate(layer))


@router.delete("/{layer_id}", status_code=204)
async def delete_map_layer(layer_id: str, session: SessionDep, _admin: AdminUser) -> None:
    """Delete a layer; 404 for an unknown one."""
    await map_layers.delete_layer(session, layer_id)
