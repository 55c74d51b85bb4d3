"""Polygons: create, read, list, update, delete, with the rules of `projects.access`.

A polygon is readable by its owner, an admin, or anyone who may read its
project; only its owner and admins may change or delete it. Its GeoJSON is
checked (`spatial.geometry`) and stored exactly as sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from reefguide.errors import NotFound
from reefguide.projects.access import load, polygon_readable, polygon_writable, project_readable
from reefguide.projects.models import Project
from reefguide.spatial.geometry import check_polygon
from reefguide.spatial.models import Polygon
from reefguide.spatial.notes import Author, NoteView, notes_by_polygon
from reefguide.users.models import User

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


@dataclass(frozen=True)
class PolygonView:
    """A polygon with its owner and the notes the caller may read."""

    polygon: Polygon
    user: Author
    notes: list[NoteView]


@dataclass(frozen=True)
class PolygonPage:
    items: list[PolygonView]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class PolygonFilter:
    """`GET /api/polygons`: within what the caller may read, only this project's or only their own."""

    project_id: int | None = None
    only_mine: bool = False


async def create_polygon(
    session: AsyncSession,
    user: User,
    geometry: dict[str, Any],
    *,
    project_id: int | None,
    max_positions: int,
) -> Polygon:
    """A new polygon owned by `user`, in `project_id` if given: a project the caller
    may read (404 otherwise, as for any project they cannot see)."""
    check_polygon(geometry, max_positions=max_positions)
    if project_id is not None:
        await load(session, Project, project_id, readable=project_readable(user), name="Project")
    polygon = Polygon(user_id=user.id, project_id=project_id, polygon=geometry)
    session.add(polygon)
    await session.flush()
    await session.refresh(polygon)
    return polygon


async def get_polygon(session: AsyncSession, user: User, polygon_id: int) -> PolygonView:
    """A polygon the caller may read (404 otherwise), with its owner and notes."""
    # The polygon with its owner's email in one statement (`load` would take two).
    found = (
        await session.execute(
            select(Polygon, User.email)
            .join(User, User.id == Polygon.user_id)
            .where(Polygon.id == polygon_id, polygon_readable(user))
        )
    ).first()
    if found is None:
        raise NotFound("Polygon not found")
    polygon, owner_email = found
    notes = await notes_by_polygon(session, user, [polygon.id])
    return PolygonView(polygon, Author(polygon.user_id, owner_email), notes[polygon.id])


async def list_polygons(
    session: AsyncSession,
    user: User,
    where: PolygonFilter,
    *,
    limit: int | None = DEFAULT_LIMIT,
    offset: int = 0,
) -> PolygonPage:
    """The polygons the caller may read, oldest first, with owners and notes, in three
    statements whatever their number. `limit` is clamped to 1–500; None means all
    (for exports). Filtering by a project the caller may not read is 404."""
    conditions = [polygon_readable(user)]
    if where.project_id is not None:
        await load(session, Project, where.project_id, readable=project_readable(user), name="Project")
        conditions.append(Polygon.project_id == where.project_id)
    if where.only_mine:
        conditions.append(Polygon.user_id == user.id)
    offset = max(0, offset)
    if limit is not None:
        limit = min(MAX_LIMIT, max(1, limit))
    total = await session.scalar(select(func.count()).select_from(Polygon).where(*conditions))
    items = await _page(session, user, conditions, limit=limit, offset=offset)
    return PolygonPage(items, total or 0, limit if limit is not None else len(items), offset)


async def _page(
    session: AsyncSession,
    user: User,
    conditions: list[ColumnElement[bool]],
    *,
    limit: int | None,
    offset: int,
) -> list[PolygonView]:
    statement = (
        select(Polygon, User.id, User.email)
        .join(User, User.id == Polygon.user_id)
        .where(*conditions)
        .order_by(Polygon.id)
        .offset(offset)
        .limit(limit)
    )
    rows = (await session.execute(statement)).all()
    notes = await notes_by_polygon(session, user, (polygon.id for polygon, _, _ in rows))
    return [
        PolygonView(polygon, Author(owner_id, email), notes[polygon.id]) for polygon, owner_id, email in rows
    ]


async def update_polygon(
    session: AsyncSession, user: User, polygon_id: int, geometry: dict[str, Any], *, max_positions: int
) -> Polygon:
    """Replace a polygon's geometry: its owner or an admin (403 for other readers, 404 for the rest)."""
    check_polygon(geometry, max_positions=max_positions)
    polygon = await _changeable(session, user, polygon_id)
    polygon.polygon = geometry
    await session.flush()
    await session.refresh(polygon)
    return polygon


async def delete_polygon(session: AsyncSession, user: User, polygon_id: int) -> None:
    """Delete a polygon and, through the foreign key, its notes."""
    polygon = await _changeable(session, user, polygon_id)
    await session.execute(delete(Polygon).where(Polygon.id == polygon.id))


async def _changeable(session: AsyncSession, user: User, polygon_id: int) -> Polygon:
    return await load(
        session,
        Polygon,
        polygon_id,
        readable=polygon_readable(user),
        changeable=polygon_writable(user),
        name="Polygon",
    )
