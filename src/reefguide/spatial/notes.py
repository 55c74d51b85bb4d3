"""Notes on polygons: who may read and change them comes from `projects.access`.

A note is readable by its author, an admin, or anyone who may read its polygon;
only its author and admins may change or delete it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from reefguide.projects.access import is_admin, load, note_readable, note_writable, polygon_readable
from reefguide.spatial.models import Polygon, PolygonNote
from reefguide.users.models import User


@dataclass(frozen=True)
class Author:
    """The `{id, email}` of whoever wrote a note or drew a polygon."""

    id: int
    email: str


@dataclass(frozen=True)
class NoteView:
    note: PolygonNote
    user: Author


async def _notes(session: AsyncSession, *conditions: ColumnElement[bool]) -> list[NoteView]:
    """Notes matching `conditions` with their authors, oldest first, in one statement."""
    rows = await session.execute(
        select(PolygonNote, User.id, User.email)
        .join(User, User.id == PolygonNote.user_id)
        .where(*conditions)
        .order_by(PolygonNote.created_at, PolygonNote.id)
    )
    return [NoteView(note, Author(user_id, email)) for note, user_id, email in rows]


async def list_notes(session: AsyncSession, user: User) -> list[NoteView]:
    """The caller's own notes; every note for an admin."""
    mine = true() if is_admin(user) else PolygonNote.user_id == user.id
    return await _notes(session, note_readable(user), mine)


async def notes_by_polygon(
    session: AsyncSession, user: User, polygon_ids: Iterable[int]
) -> dict[int, list[NoteView]]:
    """The notes `user` may read on each of `polygon_ids`, in one statement."""
    ids = list(polygon_ids)
    found: dict[int, list[NoteView]] = {polygon_id: [] for polygon_id in ids}
    if not ids:
        return found
    for view in await _notes(session, note_readable(user), PolygonNote.polygon_id.in_(ids)):
        found[view.note.polygon_id].append(view)
    return found


async def notes_of_polygon(session: AsyncSession, user: User, polygon_id: int) -> list[NoteView]:
    """The notes of a polygon the caller may read (404 otherwise)."""
    await load(session, Polygon, polygon_id, readable=polygon_readable(user), name="Polygon")
    return (await notes_by_polygon(session, user, [polygon_id]))[polygon_id]


async def create_note(session: AsyncSession, user: User, *, polygon_id: int, content: str) -> PolygonNote:
    """Add a note to a polygon the caller may read (404 otherwise)."""
    await load(session, Polygon, polygon_id, readable=polygon_readable(user), name="Polygon")
    note = PolygonNote(content=content, user_id=user.id, polygon_id=polygon_id)
    session.add(note)
    await session.flush()
    await session.refresh(note)
    return note


async def update_note(session: AsyncSession, user: User, note_id: int, *, content: str) -> PolygonNote:
    """Change a note's content: its author or an admin (403 for other readers, 404 for the rest)."""
    note = await _changeable(session, user, note_id)
    note.content = content
    await session.flush()
    await session.refresh(note)
    return note


async def delete_note(session: AsyncSession, user: User, note_id: int) -> None:
    note = await _changeable(session, user, note_id)
    await session.execute(delete(PolygonNote).where(PolygonNote.id == note.id))


async def _changeable(session: AsyncSession, user: User, note_id: int) -> PolygonNote:
    return await load(
        session,
        PolygonNote,
        note_id,
        readable=note_readable(user),
        changeable=note_writable(user),
        name="Note",
    )
