"""The cast of the spatial tests, inserted straight into the database (not through
the projects or groups routes), and small helpers to read rows back."""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from reefguide.projects.models import (
    Group,
    GroupManager,
    GroupMember,
    Project,
    ProjectGroupShare,
    ProjectType,
    ProjectUserShare,
)
from reefguide.spatial.models import MapLayer, Polygon, PolygonNote
from reefguide.users.models import Role, User
from tests.factories import bearer, make_user, token_for

SQUARE: dict[str, Any] = {
    "type": "Polygon",
    "coordinates": [[[146.0, -18.0], [146.1, -18.0], [146.1, -18.1], [146.0, -18.1], [146.0, -18.0]]],
}
OTHER_SQUARE: dict[str, Any] = {
    "type": "Polygon",
    "coordinates": [[[147.0, -19.0], [147.2, -19.0], [147.2, -19.2], [147.0, -19.2], [147.0, -19.0]]],
}

# Everyone who may call a spatial route, in the order of the access matrices.
CALLERS = [
    "owner",
    "stranger",
    "direct_share",
    "group_member",
    "group_manager",
    "admin",
    "default",
    "anonymous",
]


def square(offset: float = 0.0) -> dict[str, Any]:
    """SQUARE moved east by `offset` degrees."""
    geometry = copy.deepcopy(SQUARE)
    geometry["coordinates"] = [[[x + offset, y] for x, y in ring] for ring in geometry["coordinates"]]
    return geometry


@dataclass(frozen=True)
class Caller:
    user: User | None
    headers: dict[str, str]

    @property
    def id(self) -> int:
        assert self.user is not None
        return self.user.id


async def caller(app: FastAPI, *roles: Role) -> Caller:
    user = await make_user(app, roles=roles or (Role.ANALYST,))
    return Caller(user, bearer(token_for(app, user)))


async def add(app: FastAPI, *rows: Any) -> None:
    """Insert rows in one transaction; their ids are set afterwards."""
    async with app.state.sessionmaker(expire_on_commit=False) as session:
        session.add_all(rows)
        await session.commit()


async def add_project(app: FastAPI, owner: Caller, *, name: str = "Reef survey", public: bool = False) -> int:
    project = Project(name=name, type=ProjectType.SITE_SELECTION, user_id=owner.id, is_public=public)
    await add(app, project)
    return project.id


async def add_polygon(
    app: FastAPI, owner: Caller, geometry: dict[str, Any] | None = None, *, project_id: int | None = None
) -> int:
    polygon = Polygon(user_id=owner.id, project_id=project_id, polygon=geometry or SQUARE)
    await add(app, polygon)
    return polygon.id


async def add_note(app: FastAPI, author: Caller, polygon_id: int, content: str = "A note") -> int:
    note = PolygonNote(user_id=author.id, polygon_id=polygon_id, content=content)
    await add(app, note)
    return note.id


async def get_row(app: FastAPI, model: type[Any], row_id: Any) -> Any:
    async with app.state.sessionmaker() as session:
        return await session.get(model, row_id)


async def count_rows(app: FastAPI, model: type[Any]) -> int:
    async with app.state.sessionmaker() as session:
        return len((await session.scalars(select(model))).all())


@dataclass(frozen=True)
class Target:
    """What a route acts on: a polygon of the owner in the shared project, with one
    note by the owner, and a map layer."""

    project_id: int
    polygon_id: int
    note_id: int
    layer_id: str


@dataclass(frozen=True)
class Cast:
    """A project owned by `owner`, shared with `direct_share` directly and with a group
    that `group_member` belongs to and `group_manager` manages (the group is owned by
    someone else), and a first target in it."""

    callers: dict[str, Caller]
    project_id: int
    first: Target

    def __getitem__(self, name: str) -> Caller:
        return self.callers[name]

    async def new_target(self, app: FastAPI) -> Target:
        """A fresh polygon, note and map layer, so each caller of a matrix acts on its own."""
        return await add_target(app, self["owner"], self.project_id)


async def add_target(app: FastAPI, owner: Caller, project_id: int) -> Target:
    polygon_id = await add_polygon(app, owner, project_id=project_id)
    note_id = await add_note(app, owner, polygon_id, OWNERS_NOTE)
    layer_id = f"reefs-{next(_layer_numbers)}"
    await add(
        app, MapLayer(id=layer_id, title=LAYER_TITLE, url=["https://example.com/reefs"], url_type="XYZ")
    )
    return Target(project_id, polygon_id, note_id, layer_id)


_layer_numbers = itertools.count(1)
OWNERS_NOTE = "The owner's note"
LAYER_TITLE = "Reefs"


async def build_cast(app: FastAPI) -> Cast:
    callers = {
        "owner": await caller(app, Role.ANALYST),
        "stranger": await caller(app, Role.ANALYST),
        "direct_share": await caller(app, Role.ANALYST),
        "group_member": await caller(app, Role.ANALYST),
        "group_manager": await caller(app, Role.ANALYST),
        "admin": await caller(app, Role.ADMIN),
        "default": await caller(app, Role.DEFAULT),
        "anonymous": Caller(None, {}),
    }
    group_owner = await caller(app, Role.ANALYST)
    project_id = await add_project(app, callers["owner"])
    group = Group(name="Reef team", owner_id=group_owner.id)
    await add(app, group)
    await add(
        app,
        ProjectUserShare(project_id=project_id, user_id=callers["direct_share"].id),
        ProjectGroupShare(project_id=project_id, group_id=group.id),
        GroupMember(group_id=group.id, user_id=callers["group_member"].id),
        GroupManager(group_id=group.id, user_id=callers["group_manager"].id),
    )
    return Cast(callers, project_id, first=await add_target(app, callers["owner"], project_id))
