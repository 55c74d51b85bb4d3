"""HTTP routes of /api/notes (ANALYST or ADMIN).

A note keeps the original's snake_case fields: `{id, created_at, content,
user_id, polygon_id}`, with `user {id, email}` in lists.
"""

from __future__ import annotations

from reefguide.auth.dependencies import AnalystUser
from reefguide.db.session import SessionDep
from reefguide.http.routing import ApiRouter
from reefguide.spatial import notes
from reefguide.spatial.schemas import (
    NoteEnvelope,
    NoteIn,
    NoteListOut,
    NoteOut,
    NoteUpdateIn,
    NoteWithUserOut,
)

router = ApiRouter(prefix="/notes", tags=["notes"])


@router.get("")
async def list_notes(session: SessionDep, user: AnalystUser) -> NoteListOut:
    """The caller's own notes, oldest first; every note for an admin."""
    return NoteListOut(notes=[NoteWithUserOut.of(view) for view in await notes.list_notes(session, user)])


@router.get("/polygon/{polygon_id}")
async def list_polygon_notes(polygon_id: int, session: SessionDep, user: AnalystUser) -> NoteListOut:
    """The notes of polygon `polygon_id`, oldest first, if the caller may read it (404
    otherwise). The same as `GET /api/notes/{polygon_id}`."""
    views = await notes.notes_of_polygon(session, user, polygon_id)
    return NoteListOut(notes=[NoteWithUserOut.of(view) for view in views])


@router.get("/{polygon_id}")
async def list_polygon_notes_by_id(polygon_id: int, session: SessionDep, user: AnalystUser) -> NoteListOut:
    """The notes of **polygon** `polygon_id`, as the README says (not the note with
    that id). The same as `GET /api/notes/polygon/{polygon_id}`."""
    return await list_polygon_notes(polygon_id, session, user)


@router.post("")
async def create_note(body: NoteIn, session: SessionDep, user: AnalystUser) -> NoteEnvelope:
    """Add a note to a polygon the caller may read (404 otherwise). Empty or blank
    content is 400."""
    note = await notes.create_note(session, user, polygon_id=body.polygon_id, content=body.content)
    return NoteEnvelope(note=NoteOut.model_validate(note))


@router.put("/{note_id}")
async def update_note(
    note_id: int, body: NoteUpdateIn, session: SessionDep, user: AnalystUser
) -> NoteEnvelope:
    """Change a note's content: its author or an admin. 403 for others who may read it,
    404 for the rest."""
    note = await notes.update_note(session, user, note_id, content=body.content)
    return NoteEnvelope(note=NoteOut.model_validate(note))


@router.delete("/{note_id}", status_code=204)
async def delete_note(note_id: int, session: SessionDep, user: AnalystUser) -> None:
    """Delete a note: its author or an admin. 403 for others who may read it, 404 for the rest."""
    await notes.delete_note(session, user, note_id)
